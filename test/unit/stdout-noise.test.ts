/**
 * Child stdout hygiene (issue 11): a child's non-JSON stdout lines are counted, and logged at most
 * once a minute per child with the count only, plus the remainder when the child ends.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/log.js';
import { lineSink } from '../support/broker.js';
import { NOISE_LOG_INTERVAL_MS, StdoutNoise } from '../../src/child/stdout-noise.js';

describe('StdoutNoise', () => {
  it('logs the first line at once, then at most one line a minute with the count, and the rest at exit', () => {
    const lines: string[] = [];
    let t = 1_000_000;
    const noise = new StdoutNoise(createLogger('info', lineSink(lines)), 42, () => t);
    noise.count();
    for (let i = 0; i < 500; i++) noise.count();
    t += NOISE_LOG_INTERVAL_MS - 1;
    noise.count();
    expect(lines).toHaveLength(1);
    t += 1;
    noise.count();
    noise.count();
    noise.flush();
    const logged = lines.map((l) => JSON.parse(l) as { pid: number; lines: number; total: number });
    expect(logged.map((l) => [l.lines, l.total])).toEqual([[1, 1], [502, 503], [1, 504]]);
    expect(logged.every((l) => l.pid === 42)).toBe(true);
  });
});
