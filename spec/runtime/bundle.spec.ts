import { mkdirSync, existsSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { moduleBundle } from '../../runtime/process/bundle.ts';

describe('the bundle cache', () => {
  it('removes older builds of a module an hour after they were made, and keeps newer ones', async () => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-pruned-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, 'export const n = 1;\n');
    const made: string[] = [];
    try {
      const first = (await moduleBundle(pathToFileURL(file).href))!;
      const cache = dirname(dirname(first));
      // A build's directory is `<id>-<pid>-<time>-<n>`: make two more of the same bundle, one two hours old.
      const id = basename(dirname(first)).split('-')[0]!;
      const [old, recent] = [join(cache, `${id}-old-build`), join(cache, `${id}-recent-build`)];
      for (const dir of [old, recent]) {
        mkdirSync(dir);
        made.push(dir);
      }
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      utimesSync(old, twoHoursAgo, twoHoursAgo);
      // The module changes: it is built again, and the builds of it from before an hour ago go.
      writeFileSync(file, 'export const n = 22;\n');
      const second = (await moduleBundle(pathToFileURL(file).href))!;
      expect(second).not.toBe(first);
      expect(existsSync(old)).toBe(false);
      expect(existsSync(recent)).toBe(true);
      expect(existsSync(first)).toBe(true);
      expect(existsSync(second)).toBe(true);
    } finally {
      rmSync(file, { force: true });
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds a bundle again when its files were removed while the program runs', async () => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-removed-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, 'export const n = 1;\n');
    try {
      const first = (await moduleBundle(pathToFileURL(file).href))!;
      rmSync(dirname(first), { recursive: true, force: true });
      const second = (await moduleBundle(pathToFileURL(file).href))!;
      expect(existsSync(second)).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
