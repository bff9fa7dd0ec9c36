import { execFile } from 'node:child_process';
import { lstat } from 'node:fs/promises';

/**
 * Give folders to the sandbox's user. `trees` are changed whole (links themselves, never what
 * they point at: -h -P), `tops` only when the folder itself is not theirs yet (a shared cache
 * folder the sandbox user has filled since). A no-op unless we are root.
 */
export async function chownTree(trees: string[], owner: { uid: number; gid: number }, tops: string[] = []): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const stale: string[] = [];
  for (const top of tops) {
    const info = await lstat(top).catch(() => undefined);
    if (info?.isDirectory() === true && (info.uid !== owner.uid || info.gid !== owner.gid)) stale.push(top);
  }
  const all = [...trees, ...stale];
  if (all.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    execFile('chown', ['-R', '-h', '-P', `${owner.uid}:${owner.gid}`, '--', ...all], { timeout: 120_000 }, (err, _out, stderr) =>
      err === null ? resolve() : reject(new Error(`could not hand the build folder to the sandbox user: ${stderr.trim() || err.message}`, { cause: err })),
    );
  });
}
