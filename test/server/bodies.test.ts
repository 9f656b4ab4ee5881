/**
 * Request bodies as the official clients send them (docs/protocol.md §3.4): JSON, urlencoded and
 * multipart with PHP brackets, boolean spellings, .NET's trailing-space keys, bodies on GET, `debug`.
 */
import { request } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFields, splitKey } from '../../src/server/brackets.js';
import { Harness, corpus } from './helpers.js';

const TIFF = corpus('tiff-video-001-150x103.tiff'); // 150×103, tiny: fast to process

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

function loggedParams(task: string): Record<string, unknown> {
  const entry = h.srv.log.find((r) => r.path === '/v1/process' && r.task === task);
  const params = { ...entry!.params } as Record<string, unknown> & { files: Record<string, unknown>[] };
  params.files = params.files.map(({ server_filename: _, ...rest }) => rest);
  return params;
}

async function outputSize(task: string): Promise<[number?, number?, string?]> {
  const { bytes } = await h.download(task);
  const m = await sharp(bytes).metadata();
  return [m.width, m.height, m.format];
}

/** Raw node:http, because fetch refuses a body on GET — which Guzzle and RestClient send. */
function rawRequest(method: string, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(h.url(path), { method, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the three encodings of /process give identical results', () => {
  it('JSON, urlencoded brackets and multipart brackets', async () => {
    const results = [];
    for (const encoding of ['json', 'form', 'multipart'] as const) {
      const { task, files } = await h.prepare('resizeimage', [['video.tiff', TIFF]]);
      const sf = files[0].server_filename;
      const flat: [string, string][] = [
        ['task', task],
        ['tool', 'resizeimage'],
        ['files[0][server_filename]', sf],
        ['files[0][filename]', 'video.tiff'],
        ['files[0][rotate]', '90'],
        ['resize_mode', 'pixels'],
        ['pixels_width', '60'],
        ['pixels_height', '60'],
        ['maintain_ratio', encoding === 'form' ? '0' : 'False'],
        ['no_enlarge_if_smaller', '1'],
        ['output_filename', '{filename}-{n}'],
        // What PHP sends besides (every public property): must be ignored.
        ['token', h.token],
        ['remainingFiles', '249'],
        ['watermakFiles', ''],
        ['v', 'php.1.1.17'],
      ];
      const body =
        encoding === 'json'
          ? {
              json: {
                task,
                tool: 'resizeimage',
                files: [{ server_filename: sf, filename: 'video.tiff', rotate: 90 }],
                resize_mode: 'pixels',
                pixels_width: 60,
                pixels_height: 60,
                maintain_ratio: false,
                no_enlarge_if_smaller: true,
                output_filename: '{filename}-{n}',
                v: 'js.0.0.1',
              },
            }
          : encoding === 'form'
            ? { form: flat }
            : { multipart: flat };
      const res = await h.json('POST', '/process', { body });
      expect(res.status).toBe('TaskSuccess');
      results.push({ params: loggedParams(task), name: res.download_filename, size: await outputSize(task) });
    }
    expect(results[0].params).toMatchObject({ maintain_ratio: false, no_enlarge_if_smaller: true, pixels_width: 60, files: [{ rotate: 90 }] });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0].name).toBe('video-1.tiff');
    expect(results[0].size).toEqual([60, 60, 'tiff']);
  });
});

describe('values and keys as the clients spell them', () => {
  it.each([
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    ['True', true],
    ['False', false],
  ])('maintain_ratio=%s → %s', async (spelled, expected) => {
    const { task, files } = await h.prepare('resizeimage', [['v.tiff', TIFF]]);
    await h.json('POST', '/process', {
      body: {
        form: {
          task,
          tool: 'resizeimage',
          'files[0][server_filename]': files[0].server_filename,
          'files[0][filename]': 'v.tiff',
          pixels_width: '75',
          pixels_height: '75',
          maintain_ratio: spelled,
        },
      },
    });
    expect(loggedParams(task).maintain_ratio).toBe(expected);
    const [w, height] = await outputSize(task);
    expect(w).toBe(75);
    expect(height).toBe(expected ? 52 : 75);
  });

  it('.NET: trailing-space keys, "Pixels", True/False as multipart', async () => {
    const { task, files } = await h.prepare('resizeimage', [['v.tiff', TIFF]]);
    await h.json('POST', '/process', {
      body: {
        multipart: [
          ['task', task],
          ['tool', 'resizeimage'],
          ['files[0][server_filename]', files[0].server_filename],
          ['files[0][filename]', 'v.tiff'],
          ['resize_mode', 'Pixels'],
          ['pixels_width ', '30'],
          ['pixels_height ', '30'],
          ['maintain_ratio ', 'False'],
          ['no_enlarge_if_smaller  ', 'True'],
        ],
      },
    });
    expect(loggedParams(task)).toMatchObject({ resize_mode: 'pixels', pixels_width: 30, maintain_ratio: false, no_enlarge_if_smaller: true });
    expect(await outputSize(task)).toEqual([30, 30, 'tiff']);
  });

  it('convert_to is an alias of to, and both reach the tool', async () => {
    const { task, files } = await h.prepare('convertimage', [['rocket.jpg', corpus('icc-adobergb-rocket-640x427.jpg')]]);
    const res = await h.process({ task, tool: 'convertimage', files, convert_to: 'png' });
    expect(res).toMatchObject({ status: 'TaskSuccess', download_filename: 'rocket.png', output_extensions: ['png'] });
    expect(loggedParams(task)).toMatchObject({ to: 'png', convert_to: 'png' });
    expect(await outputSize(task)).toEqual([640, 427, 'png']);
  });
});

describe('bodies on GET and debug', () => {
  it('reads a form body sent with GET (Guzzle, RestClient) and echoes it with debug', async () => {
    const res = await rawRequest('GET', '/start/compressimage', 'v=php.1.1.17&debug=true', {
      Authorization: `Bearer ${h.token}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    expect(res).toEqual({ status: 200, body: { v: 'php.1.1.17', debug: 'true' } });
  });

  it('debug on /start, /upload and /process processes and charges nothing', async () => {
    const before = (await h.json('GET', '/info')).remaining_files;
    const echo = await h.json('GET', '/start/compressimage?debug=1');
    expect(echo).toEqual({ debug: '1' });
    expect(h.srv.log.at(-1)).toMatchObject({ path: '/v1/start/compressimage', tool: 'compressimage', params: { debug: '1' }, status: 200 });

    const task = await h.startTask('compressimage');
    const upload = await h.json('POST', '/upload', {
      body: { multipart: [['task', task], ['debug', 'true'], ['file', { data: TIFF, filename: 'v.tiff' }]] },
    });
    expect(upload).toEqual({ task, debug: 'true', file: { filename: 'v.tiff', size: TIFF.length } });
    expect((await h.json('GET', `/task/${task}`)).file_number).toBe('0');

    const sf = await h.upload(task, 'v.tiff', TIFF);
    const processEcho = await h.process({ task, tool: 'compressimage', files: [{ server_filename: sf, filename: 'v.tiff' }], debug: true });
    expect(processEcho).toMatchObject({ task, debug: true, files: [{ server_filename: sf }] });
    expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskWaiting');
    expect((await h.json('GET', '/info')).remaining_files).toBe(before);
  });
});

describe('hostile bodies', () => {
  it('refuses JSON nested deeper than the cap with the endpoint error type', async () => {
    const deep = '{"a":'.repeat(100) + '1' + '}'.repeat(100);
    const res = await fetch(h.url('/process'), {
      method: 'POST',
      headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' },
      body: deep,
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ type: 'ProcessingError', message: expect.stringMatching(/nested/) });
  });

  it('refuses malformed JSON and a non-object body', async () => {
    for (const body of ['{"task":', '[1,2]']) {
      const res = await fetch(h.url('/process'), { method: 'POST', headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' }, body });
      expect(res.status).toBe(400);
    }
  });

  it('parses brackets without trusting indexes, depth or prototype keys', () => {
    expect(splitKey('files[0][server_filename] ')).toEqual(['files', '0', 'server_filename']);
    expect(splitKey('a[b')).toEqual(['a[b']);
    const f = buildFields([
      ['files[999999999][server_filename]', 'b'],
      ['files[3][server_filename]', 'a'],
      ['list[]', 'x'],
      ['list[]', 'y'],
      ['elements[0][text]', 'hi'],
      ['elements[0][gravity]', 'North'],
      ['a[__proto__][polluted]', '1'],
      ['constructor[prototype][polluted]', '1'],
      ['scalar', '1'],
      ['scalar[x]', '2'],
    ]);
    expect(f).toEqual({
      files: [{ server_filename: 'a' }, { server_filename: 'b' }],
      list: ['x', 'y'],
      elements: [{ text: 'hi', gravity: 'North' }],
      scalar: { x: '2' },
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => buildFields([['a[b][c][d][e][f][g][h][i]', '1']])).toThrow(/nested/);
  });

  it('refuses a too-deep bracket key in a form body with 400', async () => {
    const res = await h.call('POST', '/process', { body: { form: { 'a[1][2][3][4][5][6][7][8]': 'x' } } });
    expect(res.status).toBe(400);
    expect((await res.json()).error.type).toBe('ProcessingError');
  });
});
