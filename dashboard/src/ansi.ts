// Build logs carry ANSI colour codes (npm, vite, next print them). Turn each line into styled
// runs instead of showing the escape codes; anything that is not a colour (cursor moves) is dropped.

export interface Run {
  text: string;
  cls: string;
  style?: string;
}

interface Pen {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  fgRgb?: string;
  bgRgb?: string;
}

const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

function xterm256(n: number): string {
  if (n < 16) return `var(--ansi-${n < 8 ? NAMES[n] : `bright-${NAMES[n - 8]}`})`;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const c = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
}

/** Set the foreground or background to a named colour or an rgb() one (the other form is dropped). */
function paint(p: Pen, layer: 'fg' | 'bg', name: string | undefined, rgb?: string): void {
  const [named, exact] = layer === 'fg' ? (['fg', 'fgRgb'] as const) : (['bg', 'bgRgb'] as const);
  delete p[named];
  delete p[exact];
  if (name !== undefined) p[named] = name;
  if (rgb !== undefined) p[exact] = rgb;
}

function apply(pen: Pen, codes: number[]): Pen {
  let p: Pen = { ...pen };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    if (c === 0) p = {};
    else if (c === 1) p.bold = true;
    else if (c === 2) p.dim = true;
    else if (c === 3) p.italic = true;
    else if (c === 4) p.underline = true;
    else if (c === 22) {
      p.bold = false;
      p.dim = false;
    } else if (c === 23) p.italic = false;
    else if (c === 24) p.underline = false;
    else if (c >= 30 && c <= 37) paint(p, 'fg', NAMES[c - 30]);
    else if (c >= 90 && c <= 97) paint(p, 'fg', `bright-${NAMES[c - 90]}`);
    else if (c === 39) paint(p, 'fg', undefined);
    else if (c >= 40 && c <= 47) paint(p, 'bg', NAMES[c - 40]);
    else if (c >= 100 && c <= 107) paint(p, 'bg', `bright-${NAMES[c - 100]}`);
    else if (c === 49) paint(p, 'bg', undefined);
    else if ((c === 38 || c === 48) && codes[i + 1] === 5) {
      paint(p, c === 38 ? 'fg' : 'bg', undefined, xterm256(codes[i + 2] ?? 0));
      i += 2;
    } else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
      paint(p, c === 38 ? 'fg' : 'bg', undefined, `rgb(${codes[i + 2] ?? 0},${codes[i + 3] ?? 0},${codes[i + 4] ?? 0})`);
      i += 4;
    }
  }
  return p;
}

function classes(p: Pen): string {
  const out: string[] = [];
  if (p.fg !== undefined) out.push(`fg-${p.fg}`);
  if (p.bg !== undefined) out.push(`bg-${p.bg}`);
  if (p.bold === true) out.push('b');
  if (p.dim === true) out.push('dim');
  if (p.italic === true) out.push('i');
  if (p.underline === true) out.push('u');
  return out.join(' ');
}

// CSI sequences (ESC [ ... final byte) and OSC sequences (ESC ] ... BEL or ESC \)
const ESCAPES = /\u001b\[([0-9;?]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** `parseAnsi('\x1b[31merror\x1b[0m ok')` -> [{text:'error',cls:'fg-red'},{text:' ok',cls:''}] */
export function parseAnsi(line: string, start: Pen = {}): { runs: Run[]; pen: Pen } {
  const runs: Run[] = [];
  let pen = start;
  let last = 0;
  const push = (text: string) => {
    if (text === '') return;
    const style = [pen.fgRgb && `color:${pen.fgRgb}`, pen.bgRgb && `background:${pen.bgRgb}`].filter(Boolean).join(';');
    runs.push(style === '' ? { text, cls: classes(pen) } : { text, cls: classes(pen), style });
  };
  for (const m of line.matchAll(ESCAPES)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === 'm')
      pen = apply(
        pen,
        (m[1] === '' || m[1] === undefined ? '0' : m[1]).split(';').map((x) => Number(x) || 0),
      );
  }
  push(line.slice(last).replace(/\r/g, ''));
  return { runs, pen };
}
