/** true when a process with this pid exists (the pid in a sandbox's group or network name, or a worker's lease) */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
