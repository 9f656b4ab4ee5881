/**
 * The one parser for numeric flags (`-j`, `--retries`, `--page`, `--port`, …): a bad value is a usage
 * error (exit 2) whose message names the flag and the accepted range.
 */
import { InvalidArgumentError } from 'commander';

export function numberOption(flag: string, range: { min: number; max?: number; integer?: boolean }): (raw: string) => number {
  const integer = range.integer ?? true;
  const what = integer ? 'a whole number' : 'a number';
  const bounds = range.max === undefined ? `≥ ${range.min}` : `from ${range.min} to ${range.max}`;
  return (raw: string) => {
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < range.min || (range.max !== undefined && n > range.max)) {
      throw new InvalidArgumentError(`${flag} must be ${what} ${bounds}`);
    }
    return n;
  };
}
