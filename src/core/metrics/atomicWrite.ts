import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';

/**
 * Writes a whole file so readers see the old content or the new, never a part: temp file in the
 * same directory, then rename. The temp name does not end in `.json`, so directory readers skip it.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(temp, content, { mode });
    await renameWithRetry(temp, path);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Windows refuses a rename over a file another process has open (EPERM/EBUSY) for a moment. */
async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rename(from, to);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || (code !== 'EPERM' && code !== 'EBUSY') || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * (attempt + 1)));
    }
  }
}
