import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { redactSecrets, redactUrl, redactUrlsIn, urlSecrets } from '../../src/util/redact-url.js';

describe('redactUrlsIn', () => {
  it('hides user and password and keeps scheme, host, port and path', () => {
    expect(redactUrl('rtsp://admin:S3cretPW@cam1.lan:554/Streaming/101')).toBe(
      'rtsp://***@cam1.lan:554/Streaming/101',
    );
    expect(redactUrl('rtsp://admin@cam1.lan/cam')).toBe('rtsp://***@cam1.lan/cam');
    expect(redactUrl('RTSPS://Admin:S3cretPW@cam1.lan/cam')).toBe('RTSPS://***@cam1.lan/cam');
  });

  it("redacts ffmpeg's own error line and fluent-ffmpeg's wrapper of it", () => {
    expect(redactUrlsIn('rtsp://admin:S3cretPW@127.0.0.1:1/cam: Connection refused')).toBe(
      'rtsp://***@127.0.0.1:1/cam: Connection refused',
    );
    const wrapped =
      'ffmpeg exited with code 1: rtsp://admin:S3cretPW@127.0.0.1:8554/wrong: Server returned 404 Not Found\n';
    expect(redactUrlsIn(wrapped)).toBe(
      'ffmpeg exited with code 1: rtsp://***@127.0.0.1:8554/wrong: Server returned 404 Not Found\n',
    );
  });

  it('redacts every URL of a line, each keeping its own host', () => {
    const line =
      'tried rtsp://a:pw1@10.0.0.1/x, then http://b:pw2@[fe80::1%25eth0]:8080/y and rtsp://10.0.0.3/z';
    expect(redactUrlsIn(line)).toBe(
      'tried rtsp://***@10.0.0.1/x, then http://***@[fe80::1%25eth0]:8080/y and rtsp://10.0.0.3/z',
    );
  });

  it('handles IPv6 hosts with and without credentials', () => {
    expect(redactUrl('rtsp://admin:S3cretPW@[::1]:8554/cam')).toBe('rtsp://***@[::1]:8554/cam');
    expect(redactUrl('rtsp://[::1]:8554/cam@main')).toBe('rtsp://[::1]:8554/cam@main');
  });

  it('keeps an @ in the path or query, and a port, as they are', () => {
    expect(redactUrl('rtsp://cam1.lan:554/live@main?x=1')).toBe('rtsp://cam1.lan:554/live@main?x=1');
    expect(redactUrl('rtsp://admin:S3cretPW@cam1.lan/live@main')).toBe('rtsp://***@cam1.lan/live@main');
    expect(redactUrlsIn('see http://example.com/a and mail ops@example.com')).toBe(
      'see http://example.com/a and mail ops@example.com',
    );
  });

  it('handles percent-encoded and unencoded special characters in the password', () => {
    expect(redactUrl('rtsp://admin:S3cret%40PW%2F@cam1.lan/cam')).toBe('rtsp://***@cam1.lan/cam');
    // an '@' in the password (ffmpeg takes the last '@' of the authority)
    expect(redactUrl('rtsp://admin:S3cret@PW@cam1.lan/cam')).toBe('rtsp://***@cam1.lan/cam');
    // an unencoded '/' or '"' ends the authority early; the password must still go
    expect(redactUrlsIn('rtsp://admin:S3c/retPW@cam1.lan/cam: Invalid data')).toBe(
      'rtsp://***@cam1.lan/cam: Invalid data',
    );
    expect(redactUrlsIn('open "rtsp://admin:S3c"retPW@cam1.lan/cam" failed')).toBe(
      'open "rtsp://***@cam1.lan/cam" failed',
    );
    expect(redactUrlsIn('rtsp://admin:S3c retPW@cam1.lan/cam: Invalid argument')).toBe(
      'rtsp://***@cam1.lan/cam: Invalid argument',
    );
  });

  it('redacts a URL percent-encoded inside another one', () => {
    expect(redactUrl('http://proxy/play?src=rtsp%3A%2F%2Fadmin%3AS3cretPW%40cam1.lan%2Fcam')).toBe(
      'http://proxy/play?src=rtsp%3A%2F%2F***%40cam1.lan%2Fcam',
    );
  });

  it('hides secret query values and nothing else', () => {
    expect(redactUrl('http://cam1.lan/video.cgi?user=admin&password=S3cretPW&res=720')).toBe(
      'http://cam1.lan/video.cgi?user=admin&password=***&res=720',
    );
    expect(redactUrl('https://hooks.lan/x?token=abc&api_key=def#frag')).toBe(
      'https://hooks.lan/x?token=***&api_key=***#frag',
    );
    // ';' is not taken as a separator: a password may contain one
    expect(redactUrl('http://cam1.lan/cgi?PASS=S3cret;PW&x=1')).toBe('http://cam1.lan/cgi?PASS=***&x=1');
    expect(redactUrl('http://cam1.lan/cgi?channel=1&fps=15')).toBe('http://cam1.lan/cgi?channel=1&fps=15');
  });

  it('leaves text without URLs and URLs without credentials unchanged', () => {
    for (const t of [
      '',
      'no first frame within 20 s',
      'rtsp://127.0.0.1:8554/test: Server returned 404 Not Found',
      'file:///videos/a.mp4',
      '[tcp @ 0x55] Connection to tcp://127.0.0.1:1?timeout=2000000 failed: Connection refused',
    ])
      expect(redactUrlsIn(t)).toBe(t);
  });

  it('never lets the password through, whatever surrounds the URL', () => {
    const url = 'rtsp://admin:S3cretPW@127.0.0.1:1/cam';
    for (const wrap of [
      (u: string) => `${u}: Connection refused`,
      (u: string) => `"${u}"`,
      (u: string) => `(${u})`,
      (u: string) => `<${u}>`,
      (u: string) => `'${u}'`,
      (u: string) => `url=${u}&next=1`,
      (u: string) => `${u}\n${u}`,
      (u: string) => `x${u}`,
    ]) {
      const out = redactUrlsIn(wrap(url));
      expect(out, wrap(url)).not.toContain('S3cretPW');
      expect(out, wrap(url)).toContain('127.0.0.1:1/cam');
    }
  });
});

describe('urlSecrets / redactSecrets', () => {
  it("takes a stream URL's password (raw and decoded) and secret query values", () => {
    expect(urlSecrets('rtsp://admin:S3cret%21PW@cam1.lan/cam')).toEqual(['S3cret%21PW', 'S3cret!PW']);
    expect(urlSecrets('http://cam1.lan/x?password=S3cretPW')).toEqual(['S3cretPW']);
    expect(urlSecrets('rtsp://cam1.lan/cam')).toEqual([]);
    expect(urlSecrets('rtsp://admin:pw@cam1.lan/cam')).toEqual([]); // too short to hunt for
    expect(urlSecrets(undefined)).toEqual([]);
  });

  it('hides the literal secret even where no URL shape is left', () => {
    const secrets = urlSecrets('rtsp://admin:S3cret!PW@cam1.lan/cam');
    expect(redactSecrets('auth failed for S3cret!PW (rtsp://admin:S3cret!PW@cam1.lan/cam)', secrets)).toBe(
      'auth failed for *** (rtsp://***@cam1.lan/cam)',
    );
  });
});

describe('createLogger', () => {
  function capture() {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    return { log: createLogger('info', sink), lines };
  }

  it('hides credentials in fields, message text, error message and stack of every line', () => {
    const { log, lines } = capture();
    log.warn(
      { stream: 'door', url: 'rtsp://admin:S3cretPW@cam1.lan/cam' },
      'opening rtsp://admin:S3cretPW@cam1.lan/cam',
    );
    log.error(new Error('ffmpeg exited with code 1: rtsp://admin:S3cretPW@cam1.lan/cam: Connection refused'));
    log
      .child({ hook: 'https://hooks.lan/x?token=S3cretPW' })
      .info('webhook https://bot:S3cretPW@hooks.lan/x failed');
    // a quote in the password is escaped in JSON (\"): redaction works on the decoded text
    log.warn('open rtsp://admin:S3c"retPW@cam1.lan/cam failed');
    expect(lines).toHaveLength(4);
    for (const l of lines) {
      expect(l).not.toMatch(/S3c"?retPW|S3c\\"retPW|admin:/);
      expect(l.endsWith('\n')).toBe(true);
      JSON.parse(l); // still one JSON object per line
    }
    const first = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(first.url).toBe('rtsp://***@cam1.lan/cam');
    expect(first.msg).toBe('opening rtsp://***@cam1.lan/cam');
    expect(lines[1]).toContain('rtsp://***@cam1.lan/cam: Connection refused');
  });

  it('leaves a line without credentials byte for byte as pino wrote it', () => {
    const { log, lines } = capture();
    log.info({ url: 'http://127.0.0.1:8080/', q: 'a=b' }, 'viewer and /metrics listening');
    expect(lines[0]).toMatch(
      /^\{"level":30,"time":\d+,"service":"vigil","url":"http:\/\/127\.0\.0\.1:8080\/","q":"a=b","msg":"viewer and \/metrics listening"\}\n$/,
    );
  });
});

describe('configuration errors', () => {
  it('quote the offending YAML line without the camera password', () => {
    const yaml = 'streams:\n  - id: door\n    url: rtsp://admin:S3cretPW@cam1.lan/cam: x: y\n';
    let error: unknown;
    try {
      parseConfig(yaml, 'door.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('YAML syntax');
    expect(message).toContain('rtsp://***@cam1.lan/cam');
    expect(message).not.toContain('S3cretPW');
    expect((error as ConfigError).problems.join('\n')).not.toContain('S3cretPW');
  });
});
