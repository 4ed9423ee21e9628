/**
 * Just enough PNG reading to check a screenshot is a picture: the size from the header, and the pixels of
 * the 8-bit, non-interlaced images Chromium writes (grey, grey+alpha, RGB, RGBA), to count colours.
 */
import { inflateSync } from 'node:zlib';

export interface PngHeader { width: number; height: number; bitDepth: number; colorType: number; interlace: number }

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function pngHeader(buf: Buffer): PngHeader {
  if (buf.length < 33 || !buf.subarray(0, 8).equals(SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG file');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), bitDepth: buf[24]!, colorType: buf[25]!, interlace: buf[28]! };
}

export interface PngStats extends PngHeader {
  /** Distinct colours (counting stops at 4096). */
  colours: number;
  /** Share of pixels that differ from the top-left one (the page's background). */
  inked: number;
}

export function pngStats(buf: Buffer): PngStats {
  const h = pngHeader(buf);
  const channels = CHANNELS[h.colorType];
  if (h.bitDepth !== 8 || channels === undefined || h.interlace !== 0) throw new Error(`unsupported PNG (bit depth ${h.bitDepth}, colour type ${h.colorType}, interlace ${h.interlace})`);
  const idat: Buffer[] = [];
  for (let off = 8; off + 8 <= buf.length;) {
    const len = buf.readUInt32BE(off), type = buf.toString('latin1', off + 4, off + 8);
    if (type === 'IDAT') idat.push(buf.subarray(off + 8, off + 8 + len));
    if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = h.width * channels;
  let prev = Buffer.alloc(stride);
  const colours = new Set<string>();
  let bg: string | undefined;
  let inked = 0;
  for (let y = 0; y < h.height; y++) {
    const start = y * (stride + 1);
    const filter = raw[start]!;
    const line = Buffer.from(raw.subarray(start + 1, start + 1 + stride));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0, b = prev[i]!, c = i >= channels ? prev[i - channels]! : 0;
      const add = filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : 0;
      line[i] = (line[i]! + add) & 0xff;
    }
    for (let x = 0; x < h.width; x++) {
      const px = line.toString('hex', x * channels, (x + 1) * channels);
      bg ??= px;
      if (px !== bg) inked++;
      if (colours.size < 4096) colours.add(px);
    }
    prev = line;
  }
  return { ...h, colours: colours.size, inked: inked / (h.width * h.height) };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
