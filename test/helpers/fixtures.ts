/** The test images committed with the repository: `test/fixtures/` (origins and licences in its MANIFEST.tsv). */
import path from 'node:path';

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

/** The absolute path of a committed fixture. */
export const fixture = (name: string): string => path.join(FIXTURES, name);
