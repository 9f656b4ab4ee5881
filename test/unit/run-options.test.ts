import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addRunOptions, readRunOptions } from '../../src/flags/run-options.js';
import { RUN_OPTIONS } from '../../src/run/model.js';

function parse(argv: string[], opts: { savings?: boolean; then?: boolean } = { savings: true, then: true }) {
  const cmd = new Command('t').exitOverride().configureOutput({ writeErr: () => {} }).argument('[inputs...]');
  addRunOptions(cmd, opts);
  cmd.parse(argv, { from: 'user' });
  return { cmd, run: readRunOptions(cmd) };
}

describe('the run options table', () => {
  it('reads every kind back with its default when no flag is given', () => {
    const { run } = parse(['a.jpg']);
    expect(run).toEqual({
      mode: 'human', flat: false, inPlace: false, keepDates: false, onConflict: 'error', recursive: false, filesFrom: [],
      failFast: false, strict: false, dryRun: false, noWait: false, apiDebug: false, resume: false, skipUnchanged: false, then: [],
      outputDir: undefined, output: undefined, suffix: undefined, name: undefined, concurrency: undefined, minSavings: undefined,
    });
  });

  it('reads each kind as given: switches, --no-wait, strings, repeatable lists, choices, counts, savings', () => {
    const { run } = parse(['a.jpg', '-o', 'out', '--flat', '--no-wait', '--suffix', '-small', '--files-from', 'x', '--files-from', 'y', '--on-conflict', 'rename', '-j', '3', '--min-savings', '10%', '--then', 'compress', '--then', 'rotate --rotate 90']);
    expect(run).toMatchObject({ outputDir: 'out', flat: true, noWait: true, suffix: '-small', filesFrom: ['x', 'y'], onConflict: 'rename', concurrency: 3, minSavings: { percent: 10 }, then: ['compress', 'rotate --rotate 90'] });
  });

  it('refuses bad values with the flag named', () => {
    expect(() => parse(['-j', '0'])).toThrow(/--concurrency must be a whole number from 1 to 64/);
    expect(() => parse(['--suffix', 'a/b'])).toThrow(/non-empty suffix without slashes/);
    expect(() => parse(['--on-conflict', 'nope'])).toThrow(/Allowed choices are error, skip, overwrite, rename/);
  });

  it('adds a row marked only for some commands only where asked, and every other row everywhere', () => {
    const { cmd } = parse([], {});
    const longs = cmd.options.map((o) => o.long);
    for (const row of RUN_OPTIONS) {
      const long = row.flags.match(/--[\w-]+/)![0];
      expect(longs.includes(long), long).toBe(!('only' in row));
    }
  });
});
