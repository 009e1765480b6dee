/**
 * Checks of X12 element values the envelope headers use: a run of digits of a given length, a
 * calendar date (`YYMMDD` or `CCYYMMDD`) and a time of day (`HHMM[SS[D..]]`).
 * @module
 */

/** Whether `s` is only digits, `min` to `max` of them. */
export function isDigits(s: string, min: number, max: number): boolean {
  return s.length >= min && s.length <= max && /^\d+$/.test(s);
}

/** Whether `yymmdd` / `ccyymmdd` is a calendar date. */
export function isValidDate(s: string): boolean {
  if (!/^(\d{6}|\d{8})$/.test(s)) return false;
  const full = s.length === 6 ? "20" + s : s;
  const y = Number(full.slice(0, 4));
  const m = Number(full.slice(4, 6));
  const d = Number(full.slice(6, 8));
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

/** Whether `hhmm[ss[d..]]` is a time of day. */
export function isValidTime(s: string): boolean {
  if (!/^\d{4}(\d{2}\d*)?$/.test(s)) return false;
  return Number(s.slice(0, 2)) < 24 && Number(s.slice(2, 4)) < 60 &&
    (s.length < 6 || Number(s.slice(4, 6)) < 60);
}
