import { describe, expect, it } from 'vitest';
import { LvuError } from './lvu-error.js';
import { admitScheme, redactSource, sourceHost, sourcePolicySchema } from './source-policy.js';

const policy = sourcePolicySchema.parse(undefined);

describe('source policy', () => {
  it('lets the API open cameras, HTTP and lavfi by default, and no file path', () => {
    for (const s of ['rtsp://cam/1', 'RTSPS://cam/1', 'http://h/x.m3u8', 'https://h/x.mp4', 'lavfi:testsrc'])
      expect(() => admitScheme(s, policy)).not.toThrow();
    for (const s of ['/etc/passwd', 'file:///etc/passwd', 'video.mp4', 'udp://0.0.0.0:1234', 'tcp://h:1']) {
      const e = (() => {
        try {
          admitScheme(s, policy);
        } catch (err) {
          return err as LvuError;
        }
      })();
      expect(e, s).toBeInstanceOf(LvuError);
      expect(e!.code).toBe('FORBIDDEN');
      expect(e!.hint).toMatch(/sourcePolicy/);
    }
  });

  it('limits network sources to the listed hosts when hosts is set', () => {
    const p = sourcePolicySchema.parse({ hosts: ['cam1.example', '10.0.0.7', '::1'] });
    expect(() => admitScheme('rtsp://user:pw@cam1.example:554/s', p)).not.toThrow();
    expect(() => admitScheme('rtsp://[::1]:8554/s', p)).not.toThrow();
    expect(() => admitScheme('http://169.254.169.254/latest/meta-data', p)).toThrow(/host 169.254.169.254/);
    expect(sourceHost('http://a:b@Host.Example:80/x?y')).toBe('host.example');
    expect(sourceHost('lavfi:testsrc')).toBeNull();
  });

  it('redacts user-info and secret query values, leaves the rest', () => {
    expect(redactSource('rtsp://alice:s3cret@cam:554/live')).toBe('rtsp://***@cam:554/live');
    expect(redactSource('http://h/p.m3u8?password=p4ss&size=2&api_key=K&Token=t#f')).toBe(
      'http://h/p.m3u8?password=***&size=2&api_key=***&Token=***#f',
    );
    expect(redactSource('/videos/a?password=x.mp4')).toBe('/videos/a?password=x.mp4'); // a path, not a URL
  });
});
