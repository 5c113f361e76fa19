/**
 * Stack traces in an actor process name the user's `.ts` lines, not the
 * bundle's. Node's own source-map support reads every map when a module
 * loads, which costs each actor process its start; this reads the bundle's
 * map only when a stack is first formatted, and most actors never format one.
 */
import { fs } from '../fs.ts';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let map: SourceMap | null | undefined;

/** Formats stacks with frames of `bundleUrl` mapped through its `.map` file. */
export function mapStacksOf(bundleUrl: string): void {
  const bundleFile = fileURLToPath(bundleUrl);
  const mapFile = `${bundleFile}.map`;
  const load = (): SourceMap | null => {
    if (map !== undefined) return map;
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(mapFile, 'utf8')));
    } catch {
      map = null;
    }
    return map;
  };
  Error.prepareStackTrace = (error, sites) => {
    let text = header(error);
    for (const site of sites) {
      let frame = String(site);
      const file = site.getFileName();
      if (file === bundleUrl || file === bundleFile) {
        const line = site.getLineNumber();
        const column = site.getColumnNumber();
        const entry = (line !== null && column !== null ? load()?.findEntry(line - 1, column - 1) : undefined) as
          | { originalSource?: string; originalLine: number; originalColumn: number }
          | undefined;
        if (entry?.originalSource) {
          const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(dirname(mapFile), entry.originalSource);
          frame = frame.replace(`${file}:${line}:${column}`, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
        }
      }
      text += `\n    at ${frame}`;
    }
    return text;
  };
}

/** The first line V8 would print: `Name: message`. */
function header(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return 'Error';
  }
}
