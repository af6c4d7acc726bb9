import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { multipartExport } from './routes/image-transfer.ts';
import { parsePartHeaders, readMultipart, type PartHeaders } from './uploads.ts';

const boundary = 'b0undary';

/** A body as Go's multipart.Writer writes it (client/lxd_images.go CreateImage). */
function goBody(parts: { name: string; filename: string; data: Buffer }[]): Buffer {
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    out.push(
      Buffer.from(
        `${i ? '\r\n' : ''}--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      p.data,
    );
  });
  out.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(out);
}

function chunks(buf: Buffer, size: number): Buffer[] {
  const list: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) list.push(buf.subarray(i, i + size));
  return list;
}

async function read(body: Iterable<Buffer> | AsyncIterable<Buffer>, b = boundary) {
  const parts: { headers: PartHeaders; data: Buffer }[] = [];
  await readMultipart(body, b, async (headers) => {
    const part = { headers, data: Buffer.alloc(0) };
    parts.push(part);
    return {
      async write(chunk) {
        part.data = Buffer.concat([part.data, chunk]);
      },
      async close() {},
    };
  });
  return parts;
}

// Bytes that look like the start of a boundary, inside the data.
const tricky = Buffer.concat([
  Buffer.from('\r\n--b0undar'),
  Buffer.from([0, 1, 2, 255]),
  Buffer.from('\r\n-'),
  Buffer.alloc(1000, 7),
]);

describe('readMultipart', () => {
  it('reads both parts of a split upload byte for byte, however the body is chunked', async () => {
    const body = goBody([
      { name: 'metadata', filename: 'meta.tar.xz', data: tricky },
      { name: 'rootfs', filename: 'rootfs.squashfs', data: Buffer.from('squash\r\n') },
    ]);
    for (const size of [1, 3, 17, 4096, body.length]) {
      const parts = await read(chunks(body, size));
      expect(parts.map((p) => p.headers)).toEqual([
        { name: 'metadata', filename: 'meta.tar.xz' },
        { name: 'rootfs', filename: 'rootfs.squashfs' },
      ]);
      expect(parts[0]!.data.equals(tricky)).toBe(true);
      expect(parts[1]!.data.toString()).toBe('squash\r\n');
    }
  });

  it('reads what multipartExport writes', async () => {
    const result = multipartExport([
      {
        name: 'metadata',
        file: {
          filename: 'meta-x.tar.xz',
          size: 4,
          open: () => Readable.from([Buffer.from('meta')]),
        },
      },
      {
        name: 'rootfs.img',
        file: { filename: 'x.qcow2', size: tricky.length, open: () => Readable.from([tricky]) },
      },
    ]);
    if (result.kind !== 'raw') throw new Error('expected a raw answer');
    const exported = /boundary=(\S+)/.exec(result.headers['Content-Type']!)![1]!;
    const bytes: Buffer[] = [];
    for await (const chunk of result.body as Readable) bytes.push(chunk as Buffer);
    const body = Buffer.concat(bytes);
    expect(body.length).toBe(Number(result.headers['Content-Length']));
    const parts = await read(chunks(body, 5), exported);
    expect(parts.map((p) => p.headers.name)).toEqual(['metadata', 'rootfs.img']);
    expect(parts[1]!.data.equals(tricky)).toBe(true);
  });

  it('refuses a truncated body and one without its boundary', async () => {
    const body = goBody([{ name: 'metadata', filename: 'm', data: tricky }]);
    await expect(read([body.subarray(0, body.length - 10)])).rejects.toThrow(
      /Invalid multipart image: the body ended before its closing boundary \(truncated\)/,
    );
    await expect(read([Buffer.alloc(70 * 1024, 1)])).rejects.toThrow(/no boundary/);
    await expect(read([Buffer.from(`--${boundary}junk\r\n`)])).rejects.toThrow(
      /followed by other text/,
    );
  });
});

describe('parsePartHeaders', () => {
  it('reads Go’s escaped names and refuses parts without a form name', () => {
    expect(
      parsePartHeaders(
        'Content-Disposition: form-data; name="rootfs"; filename="a \\"b\\" \\\\c"\r\nContent-Type: x',
      ),
    ).toEqual({ name: 'rootfs', filename: 'a "b" \\c' });
    expect(() => parsePartHeaders('Content-Type: x')).toThrow(/no Content-Disposition/);
    expect(() => parsePartHeaders('Content-Disposition: form-data')).toThrow(/no form name/);
  });
});
