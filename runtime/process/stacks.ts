/**
 * Stack traces in an actor process name the user's `.ts` lines, not the
 * bundles'. Node's own source-map support reads every map when a module
 * loads, which costs each actor process its start; this reads a bundle's map
 * only when a stack is first formatted, and most actors never format one.
 */
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fs } from '../fs.ts';

/** Bundles whose frames are mapped, by URL and by path: their map file, loaded on first use. */
const bundles = new Map<string, { mapFile: string; map: SourceMap | null | undefined }>();
let installed = false;

/** Formats stacks with the frames of the bundle at `bundleUrl` mapped through its `.map` file. */
export function mapStacksOf(bundleUrl: string): void {
  const bundleFile = fileURLToPath(bundleUrl);
  const entry = { mapFile: `${bundleFile}.map`, map: undefined as SourceMap | null | undefined };
  bundles.set(bundleUrl, entry);
  bundles.set(bundleFile, entry);
  if (installed) return;
  installed = true;
  Error.prepareStackTrace = (error, sites) => {
    let text = header(error);
    for (const site of sites) text += `\n    at ${mapped(site)}`;
    return text;
  };
}

function mapped(site: NodeJS.CallSite): string {
  const frame = String(site);
  const file = site.getFileName();
  const bundle = file ? bundles.get(file) : undefined;
  if (bundle === undefined) return frame;
  if (bundle.map === undefined) {
    try {
      bundle.map = new SourceMap(JSON.parse(fs.readFileSync(bundle.mapFile, 'utf8')));
    } catch {
      bundle.map = null;
    }
  }
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (bundle.map === null || line === null || column === null) return frame;
  const entry = bundle.map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine: number; originalColumn: number } | undefined;
  if (!entry?.originalSource) return frame;
  const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(dirname(bundle.mapFile), entry.originalSource);
  return frame.replace(`${file}:${line}:${column}`, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

/** The first line V8 would print: `Name: message`. */
function header(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return 'Error';
  }
}
