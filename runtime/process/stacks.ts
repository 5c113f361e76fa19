/**
 * Stack traces in an actor process name the user's `.ts` lines, not the
 * bundles'. Node's own source-map support reads every map when a module
 * loads, which costs each actor process its start; this reads a bundle's map
 * only when a stack is first formatted, and most actors never format one.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fs } from '../fs.ts';

/** Bundles whose frames are mapped, by URL and by path: their map file, loaded on first use. */
const bundles = new Map<string, { mapFile: string; map: LineMap | null | undefined }>();
let installed = false;

/** Formats stacks with the frames of the bundle at `bundleUrl` mapped through its `.map` file. */
export function mapStacksOf(bundleUrl: string): void {
  const bundleFile = fileURLToPath(bundleUrl);
  const entry = { mapFile: `${bundleFile}.map`, map: undefined as LineMap | null | undefined };
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
  try {
    return mappedFrame(site, frame);
  } catch {
    // A map that is not what it should be: the frame as V8 gives it, never a stack that throws.
    return frame;
  }
}

function mappedFrame(site: NodeJS.CallSite, frame: string): string {
  const file = site.getFileName();
  const bundle = file ? bundles.get(file) : undefined;
  if (bundle === undefined) return frame;
  if (bundle.map === undefined) {
    try {
      // The runtime bundle's map comes decoded already (see LineMap.toBinary); an actor's is small.
      const decoded = fs.existsSync(`${bundle.mapFile}.bin`) ? fs.readFileSync(`${bundle.mapFile}.bin`) : null;
      bundle.map = decoded !== null ? LineMap.fromBinary(decoded) : LineMap.decode(JSON.parse(fs.readFileSync(bundle.mapFile, 'utf8')) as RawMap);
    } catch {
      bundle.map = null;
    }
  }
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (bundle.map === null || line === null || column === null) return frame;
  const entry = bundle.map.find(line - 1, column - 1);
  if (entry === undefined) return frame;
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

/** A source map as esbuild writes it (version 3, no sections). */
export interface RawMap {
  readonly sources: readonly string[];
  readonly sourceRoot?: string;
  readonly mappings: string;
}

const BASE64 = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) BASE64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/**
 * A source map's mappings, decoded into typed arrays: the runtime bundle's
 * map (300 KB) took node:module's SourceMap 70 ms to parse, which the first
 * stack an actor formatted (its first failed call, its crash report) paid;
 * this takes a few ms. Finds the segment of a generated line at or before a
 * column, as SourceMap#findEntry does.
 */
export class LineMap {
  readonly #sources: readonly string[];
  /** Per generated line, the index of its first segment; one more at the end. */
  readonly #lineStart: Int32Array;
  /** Four numbers a segment: generated column, source, original line, original column (source -1: none). */
  readonly #segments: Int32Array;

  constructor(sources: readonly string[], lineStart: Int32Array, segments: Int32Array) {
    this.#sources = sources;
    this.#lineStart = lineStart;
    this.#segments = segments;
  }

  /**
   * The map decoded, as one buffer: its sources as JSON, then the line starts
   * and the segments, as they are in memory. The runtime bundle's is written
   * beside its map when it is built, so that an actor process's first stack
   * reads it without decoding (1.2 MB read against 15 ms of decoding here).
   */
  toBinary(): Buffer {
    const sources = Buffer.from(JSON.stringify(this.#sources));
    const head = Buffer.alloc(12);
    const padded = Math.ceil(sources.byteLength / 4) * 4;
    head.writeUInt32LE(sources.byteLength, 0);
    head.writeUInt32LE(this.#lineStart.length, 4);
    const segments = this.#segments;
    head.writeUInt32LE(segments.length, 8);
    return Buffer.concat([head, sources, Buffer.alloc(padded - sources.byteLength), Buffer.from(this.#lineStart.buffer, this.#lineStart.byteOffset, this.#lineStart.byteLength), Buffer.from(segments.buffer, segments.byteOffset, segments.byteLength)]);
  }

  static fromBinary(bytes: Buffer): LineMap {
    const sourcesLength = bytes.readUInt32LE(0);
    const starts = bytes.readUInt32LE(4);
    const segments = bytes.readUInt32LE(8);
    const at = 12 + Math.ceil(sourcesLength / 4) * 4;
    if (at + (starts + segments) * 4 !== bytes.byteLength || segments % 4 !== 0) throw new Error('a decoded source map of the wrong length');
    // Copied into buffers of their own: a read Buffer may sit at any offset of a shared one.
    const numbers = new Int32Array(starts + segments);
    new Uint8Array(numbers.buffer).set(bytes.subarray(at, at + numbers.byteLength));
    return new LineMap(JSON.parse(bytes.toString('utf8', 12, 12 + sourcesLength)) as string[], numbers.subarray(0, starts), numbers.subarray(starts));
  }

  /** Decodes a source map's mappings. */
  static decode(raw: RawMap): LineMap {
    const sources = raw.sources.map((source) => (raw.sourceRoot ? `${raw.sourceRoot.replace(/\/?$/, '/')}${source}` : source));
    const text = raw.mappings;
    const length = text.length;
    const starts: number[] = [0];
    let segments = new Int32Array(Math.max(1024, length >> 1));
    let count = 0;
    let column = 0;
    let source = 0;
    let line = 0;
    let original = 0;
    let i = 0;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === 59 /* ; */) {
        starts.push(count);
        column = 0;
        i++;
        continue;
      }
      if (c === 44 /* , */) {
        i++;
        continue;
      }
      // One segment: one, four or five base64 VLQ fields (the fifth, a name, is not kept).
      if ((count + 1) * 4 > segments.length) {
        const grown = new Int32Array(segments.length * 2);
        grown.set(segments);
        segments = grown;
      }
      const at = count * 4;
      let n = 0;
      while (i < length) {
        const d = text.charCodeAt(i);
        if (d === 44 || d === 59) break;
        let value = 0;
        let shift = 0;
        let digit: number;
        do {
          digit = BASE64[text.charCodeAt(i++)]!;
          if (digit < 0) throw new Error('a source map with a character that is not base64');
          value |= (digit & 31) << shift;
          shift += 5;
        } while (digit & 32);
        const field = value & 1 ? -(value >>> 1) : value >>> 1;
        if (n === 0) segments[at] = column += field;
        else if (n === 1) segments[at + 1] = source += field;
        else if (n === 2) segments[at + 2] = line += field;
        else if (n === 3) segments[at + 3] = original += field;
        n++;
      }
      if (n < 4) segments[at + 1] = -1;
      count++;
    }
    starts.push(count);
    return new LineMap(sources, Int32Array.from(starts), segments.subarray(0, count * 4));
  }

  /** The original place of generated `line`, `column` (both from 0): the last segment of that line at or before the column. */
  find(line: number, column: number): { originalSource: string; originalLine: number; originalColumn: number } | undefined {
    if (line < 0 || line + 1 >= this.#lineStart.length) return undefined;
    let lo = this.#lineStart[line]!;
    let hi = this.#lineStart[line + 1]! - 1;
    if (hi < lo) return undefined;
    const seg = this.#segments;
    // The last segment whose column is at or before `column` (or the line's first, if all are after it).
    let found = lo;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seg[mid * 4]! <= column) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const source = seg[found * 4 + 1]!;
    const name = source >= 0 ? this.#sources[source] : undefined;
    if (typeof name !== 'string' || name === '') return undefined;
    return { originalSource: name, originalLine: seg[found * 4 + 2]!, originalColumn: seg[found * 4 + 3]! };
  }
}
