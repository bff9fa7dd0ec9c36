/**
 * Just enough XML for the documents the AWS SDK sends (CloudFront's rest-xml bodies): elements,
 * text and entities; attributes other than xmlns are refused, since no CloudFront input has any.
 */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    const plain = ENTITIES[name];
    if (plain === undefined) throw new Error(`unknown XML entity ${whole}`);
    return plain;
  });
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function parseXml(doc: string): XmlElement {
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tag = /<(\/?)([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|<\?[^>]*\?>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (let m = tag.exec(doc); m !== null; m = tag.exec(doc)) {
    const top = stack[stack.length - 1] as XmlElement;
    top.text += unescapeXml(doc.slice(last, m.index));
    last = tag.lastIndex;
    if (m[2] === undefined) continue; // declaration or comment
    const [, closing, name, attrs = '', selfClosing] = m;
    if (closing === '/') {
      if (top.name !== name) throw new Error(`XML: </${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    for (const attr of attrs.matchAll(/([\w:.-]+)\s*=/g)) {
      if (attr[1] !== 'xmlns' && !attr[1]?.startsWith('xmlns:')) throw new Error(`XML: unexpected attribute ${attr[1]} on <${name}>`);
    }
    const el: XmlElement = { name: name as string, children: [], text: '' };
    top.children.push(el);
    if (selfClosing !== '/') stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`XML: <${stack[stack.length - 1]?.name}> is never closed`);
  if (doc.slice(last).trim() !== '') throw new Error('XML: text after the document element');
  const [first, ...rest] = root.children;
  if (first === undefined || rest.length > 0) throw new Error('XML: expected one document element');
  return first;
}
