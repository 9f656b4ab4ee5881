/**
 * Compression bombs for the hostile-server tests, built by streaming zeros through zlib so that the
 * test process never holds the inflated size: `prefix` (an image header, so a sniff alone does not
 * catch them) followed by zeros up to `size` bytes.
 */
import { createDeflateRaw, createGzip } from 'node:zlib';

async function squeeze(stream: ReturnType<typeof createGzip>, prefix: Buffer, size: number): Promise<Buffer> {
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(1024 * 1024);
  stream.write(prefix);
  for (let left = size - prefix.length; left > 0; left -= zeros.length) {
    if (!stream.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await new Promise((r) => stream.once('drain', r));
  }
  await new Promise<void>((resolve) => stream.end(resolve));
  return Buffer.concat(out);
}

/** A gzip body that inflates to `size` bytes (for Content-Encoding: gzip). */
export const gzipBomb = (prefix: Buffer, size: number) => squeeze(createGzip({ level: 9 }), prefix, size);

/** A zip whose every entry deflates `prefix` + zeros to `size` bytes (declared sizes are honest). */
export async function zipBomb(names: string[], prefix: Buffer, size: number): Promise<Buffer> {
  const data = await squeeze(createDeflateRaw({ level: 9 }), prefix, size);
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size >>> 0, 22);
    local.writeUInt16LE(n.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(size >>> 0, 24);
    dir.writeUInt16LE(n.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    central.push(dir, n);
    offset += 30 + n.length + data.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(names.length, 8);
  end.writeUInt16LE(names.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dirBytes, end]);
}
