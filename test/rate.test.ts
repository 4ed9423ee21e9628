import { describe, expect, it } from 'vitest';
import { Rate } from '../src/lib/rate.js';

describe('progress rate and ETA', () => {
  it('the rate over the recent window, the time left at that rate; a stall says so', () => {
    const r = new Rate(10_000);
    const t0 = 1_000_000;
    expect(r.update(0, 100 * 1024 * 1024, t0)).toBe('');
    // 10 MiB in 1 s: 90 MiB left at 10 MiB/s.
    expect(r.update(10 * 1024 * 1024, 100 * 1024 * 1024, t0 + 1000)).toMatch(/^10(\.0)? MB\/s, ETA 9(\.0)? s$/);
    // Later the transfer slows: the window forgets the fast start.
    for (let i = 2; i <= 30; i++) r.update(10 * 1024 * 1024 + (i - 1) * 1024 * 1024, 100 * 1024 * 1024, t0 + i * 1000);
    expect(r.update(40 * 1024 * 1024, 100 * 1024 * 1024, t0 + 31_000)).toMatch(/^1(\.0)? MB\/s, ETA 1 min/);
    const s = new Rate();
    s.update(5, 10, t0);
    // A pause of 2 s is a stream breathing; 6 s without a byte is a stall.
    expect(s.update(5, 10, t0 + 2000)).toBe('');
    expect(s.update(5, 10, t0 + 6000)).toBe('stalled');
  });
});
