/** Naming rules: sanitising, templates, uniqueness, Content-Disposition, address checks. */
import { describe, expect, it } from 'vitest';
import {
  contentDisposition,
  defaultPackageBase,
  extensionOf,
  fillTemplate,
  newServerFilename,
  sanitizeFilename,
  uniqueNames,
  withExtension,
} from '../../src/server/names.js';
import { isNonPublicAddress } from '../../src/server/urls.js';

describe('names', () => {
  it('sanitises client file names to one safe component', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('C:\\Users\\me\\photo.jpg')).toBe('photo.jpg');
    expect(sanitizeFilename('..')).toBe('file');
    expect(sanitizeFilename('a..b.jpg')).toBe('a.b.jpg');
    expect(sanitizeFilename('bad\u0000name<>:"|?*.png')).toBe('bad_name_______.png');
    expect(sanitizeFilename(' .hidden. ')).toBe('hidden');
    expect(Array.from(sanitizeFilename('é'.repeat(500))).length).toBe(180);
  });

  it('keeps only plain extensions for server filenames', () => {
    expect(extensionOf('x.JPEG')).toBe('jpeg');
    expect(extensionOf('.bashrc')).toBe('');
    expect(extensionOf('a.b/c')).toBe('');
    expect(extensionOf('a.ph p')).toBe('');
    expect(newServerFilename('../a.PNG')).toMatch(/^[0-9a-f]{32}\.png$/);
    expect(newServerFilename('noext')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('fills templates and de-duplicates', () => {
    const date = new Date('2026-03-04T10:00:00Z');
    expect(fillTemplate('{app}_{tool}_{filename}_{n}_{date}_{nope}', { filename: 'a', n: 3, tool: 'resizeimage', date })).toBe(
      'iloveimg_resizeimage_a_3_2026-03-04_{nope}',
    );
    expect(withExtension('a.JPG', 'jpg')).toBe('a.JPG');
    expect(withExtension('a', 'png')).toBe('a.png');
    expect(uniqueNames(['a.jpg', 'A.jpg', 'a.jpg', 'b'])).toEqual(['a.jpg', 'A-2.jpg', 'a-3.jpg', 'b']);
    expect(defaultPackageBase('resizeimage')).toBe('iloveimg-resized');
    expect(defaultPackageBase('removebackgroundimage')).toBe('iloveimg-nobg');
    expect(defaultPackageBase('someothertool')).toBe('iloveimg-processed');
  });

  it('writes both Content-Disposition parameters, filename* last', () => {
    expect(contentDisposition('plain.zip')).toBe(`attachment; filename="plain.zip"; filename*=utf-8''plain.zip`);
    expect(contentDisposition("Ñandú (1)'s.jpg")).toBe(`attachment; filename="Nandu (1)'s.jpg"; filename*=utf-8''%C3%91and%C3%BA%20%281%29%27s.jpg`);
    expect(contentDisposition('日本.png')).toBe(`attachment; filename="__.png"; filename*=utf-8''%E6%97%A5%E6%9C%AC.png`);
  });
});

describe('address checks for cloud_file and webhook', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['8.8.8.8', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['not-an-ip', true],
  ])('%s non-public: %s', (address, expected) => {
    expect(isNonPublicAddress(address)).toBe(expected);
  });
});
