import { commandHelp, COMMON_FLAGS, EXIT_CODES, runCommand } from './command.js';
import { commands } from './commands.js';
import { exitCodeOf, Failed, Output, UsageError } from './output.js';

function overview(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const rows = Object.entries(commands)
    .filter(([, c]) => typeof c === 'function' || !('hidden' in c) || c.hidden !== true)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${typeof c === 'function' ? `see slipway ${name} --help` : c.summary}`);
  return [
    'slipway: git push becomes a live website',
    '',
    'Usage: slipway <command> [flags]      (slipway <command> --help for its flags and examples)',
    '',
    'Commands:',
    ...rows,
    '',
    'Common flags:',
    ...COMMON_FLAGS.map((f) => `  ${f}`),
    '',
    'Every command prints for people by default and one JSON document with --json.',
    'The server and token: --url/--token, else SLIPWAY_URL/SLIPWAY_TOKEN, else the stored login',
    '(slipway login), else the admin-token file of a local "slipway up" (--data-dir).',
    '',
    `Exit codes: ${EXIT_CODES}`,
    '',
  ].join('\n');
}

async function main(argv: string[], out: Output): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest[0] === undefined)) {
    process.stdout.write(overview());
    return;
  }
  if (name === 'help') {
    const cmd = Object.hasOwn(commands, rest[0]!) ? commands[rest[0]!] : undefined;
    if (cmd === undefined) throw new UsageError(`Unknown command "${rest[0]}".`, 'Run "slipway --help" for the list of commands.');
    if (typeof cmd === 'function') return cmd(['--help']);
    process.stdout.write(commandHelp(rest[0]!, cmd));
    return;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (cmd === undefined) throw new UsageError(`Unknown command "${name}".`, 'Run "slipway --help" for the list of commands.');
  if (typeof cmd === 'function') await cmd(rest);
  else if ('handler' in cmd) {
    // a handler parses its own flags; its help comes from its row
    if (rest.includes('--help') || rest.includes('-h')) process.stdout.write(commandHelp(name, cmd));
    else await cmd.handler(rest);
  } else await runCommand(name, cmd, rest, out);
}

const argv = process.argv.slice(2);
// known before parsing, so that even a usage error comes out as JSON
const out = new Output(argv.includes('--json'));
main(argv, out).catch((err: unknown) => {
  if (!(err instanceof Failed)) out.error(err);
  process.exitCode = exitCodeOf(err);
});
