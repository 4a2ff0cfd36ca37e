import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills defaults for a minimal file', () => {
    const c = parseConfig('streams: [{id: cam1, url: "rtsp://127.0.0.1/x"}]');
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 8080, maxUploadBytes: 20 * 1024 * 1024 });
    expect(c.server.auth).toEqual({ protectMetrics: false, allowedOrigins: [] });
    expect(c.streams[0]?.width).toBe(640);
    expect(c.streams[0]?.rtspTransport).toBe('tcp');
    expect(c.inference.maxBatch).toBe(8);
    expect(c.pipeline).toBe('detect');
  });

  it('names the key and the problem', () => {
    const p = problems(
      'server: {port: "x"}\nstreams:\n  - {id: a, url: "rtsp://h/x", detectFps: 100, bogus: 1}\n  - {id: a, demo: true}\n  - {id: "b c", lavfi: testsrc2}\n',
    );
    expect(p).toContain('server.port: Invalid input: expected number, received string');
    expect(p.some((l) => l.startsWith('streams[0].detectFps:') && l.includes('60'))).toBe(true);
    expect(p).toContain('streams[0].bogus: unknown key');
    expect(p.some((l) => l.startsWith('streams[2].id:'))).toBe(true);
  });

  it('rejects duplicate stream ids', () => {
    expect(problems('streams: [{id: a, demo: true}, {id: a, lavfi: testsrc2}]')).toEqual([
      'streams[1].id: duplicate stream id "a"',
    ]);
  });

  it('requires exactly one source kind per stream', () => {
    expect(problems('streams: [{id: a}]')).toEqual([
      'streams[0]: exactly one of url, device, lavfi or demo is required (got none)',
    ]);
    expect(problems('streams: [{id: a, url: x, demo: true}]')[0]).toContain('got url, demo');
  });

  it('reports YAML syntax errors and missing files clearly', () => {
    expect(problems('streams: [')[0]).toMatch(/^YAML syntax:/);
    expect(() => loadConfig('/nonexistent/vigil.yaml')).toThrow(/cannot read file/);
    expect(problems('server: {}')).toEqual(['streams: Invalid input: expected array, received undefined']);
  });

  it('accepts every shipped example config', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync('config').filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => loadConfig(`config/${f}`), f).not.toThrow();
  });
});
