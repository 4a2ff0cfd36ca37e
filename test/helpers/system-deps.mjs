#!/usr/bin/env node
/**
 * The system components the test suite runs against, in one list that both `.ci/run` (to install
 * and check them) and the tests (to probe before they start a component) read. Plain JavaScript
 * with no dependencies: `.ci/run` calls it before `npm ci`.
 *
 *   node test/helpers/system-deps.mjs packages   Debian packages of every missing component
 *   node test/helpers/system-deps.mjs check      exit 1 naming each missing component
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian's python3 (the one with python3-gi); the first python3 on PATH may lack gi. */
export const PYTHON = '/usr/bin/python3';

/** GStreamer elements test/helpers/rtsp_server.py builds its pipelines from. */
export const GST_ELEMENTS = [
  'videotestsrc',
  'timeoverlay',
  'x264enc',
  'rtph264pay',
  'intervideosrc',
  'intervideosink',
  'qtdemux',
  'h264parse',
];
/** At least one of these H.264 decoders is needed for --file. */
export const GST_H264_DECODERS = ['avdec_h264', 'openh264dec'];

/**
 * Each component: how to probe it and the Debian packages that provide it. `timeoverlay` is in
 * Pango's plugin, packaged in gstreamer1.0-x, which --no-install-recommends does not pull in.
 */
export const COMPONENTS = [
  { name: 'ffmpeg', binary: 'ffmpeg', packages: ['ffmpeg'] },
  { name: 'chromium', binary: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', packages: ['chromium'] },
  { name: 'prometheus', binary: 'prometheus', packages: ['prometheus'] },
  { name: 'promtool', binary: 'promtool', packages: ['prometheus'] },
  // the MQTT broker of test/helpers/mosquitto.ts (mosquitto_passwd comes with it); it has no
  // --version: `-h` prints the version and exits 3
  {
    name: 'mosquitto',
    binary: existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto',
    versionArgs: ['-h'],
    okStatus: [0, 3],
    packages: ['mosquitto'],
  },
  // test/helpers/nats.ts: the JetStream broker of cluster mode (Debian's is 2.9, in /usr/sbin)
  {
    name: 'nats-server',
    binary: existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server',
    packages: ['nats-server'],
  },
  // test/helpers/postgres.ts: cluster mode's gallery and alerts; initdb and postgres live outside
  // PATH in Debian's versioned directory
  {
    name: 'postgresql',
    binary: '/usr/lib/postgresql/15/bin/postgres',
    binDir: '/usr/lib/postgresql/15/bin',
    packages: ['postgresql-15'],
  },
  {
    name: 'gstreamer-rtsp-server',
    gst: true,
    packages: [
      'python3-gi',
      'gir1.2-gst-rtsp-server-1.0',
      'gstreamer1.0-plugins-base',
      'gstreamer1.0-plugins-good',
      'gstreamer1.0-plugins-ugly',
      'gstreamer1.0-plugins-bad',
      'gstreamer1.0-libav',
      'gstreamer1.0-tools',
      'gstreamer1.0-x',
    ],
  },
];

/** The executable `bin` resolves to on `PATH` (or itself when absolute), or null. */
export function which(bin, env = process.env) {
  const candidates = isAbsolute(bin)
    ? [bin]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next PATH entry
    }
  }
  return null;
}

/**
 * Null if `bin` is on PATH and answers `-version`/`--version` (or `probe.versionArgs`, exiting with
 * one of `probe.okStatus`), else why not.
 */
export function binaryMissing(bin, env = process.env, probe = {}) {
  const path = which(bin, env);
  if (!path) return `${bin} not found on PATH (${env.PATH ?? ''})`;
  const flag = (probe.versionArgs ?? [/ffmpeg|ffprobe/.test(bin) ? '-version' : '--version']).join(' ');
  const r = spawnSync(path, flag.split(' '), { encoding: 'utf8', timeout: 20_000, env });
  if (r.error) return `${bin} not runnable: ${r.error.code ?? r.error.message}`;
  if (!(probe.okStatus ?? [0]).includes(r.status))
    return `${bin} ${flag} exited with ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  return null;
}

const GST_PROBE = `
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ${JSON.stringify(GST_ELEMENTS)} if Gst.ElementFactory.find(e) is None]
if not any(Gst.ElementFactory.find(e) for e in ${JSON.stringify(GST_H264_DECODERS)}):
    missing.append(${JSON.stringify(GST_H264_DECODERS.join('|'))})
print(' '.join(missing))
`;

/** Null if the GStreamer RTSP server and every element the test server uses exist, else why not. */
export function gstMissing() {
  try {
    const out = execFileSync(PYTHON, ['-c', GST_PROBE], { encoding: 'utf8', timeout: 20_000, stdio: 'pipe' });
    return out.trim() ? `GStreamer elements missing: ${out.trim()}` : null;
  } catch (err) {
    const detail =
      String(err.stderr ?? '')
        .trim()
        .split('\n')
        .pop() || err.message;
    return `GStreamer RTSP server unavailable (${PYTHON} + gi + GstRtspServer 1.0): ${detail}`;
  }
}

/** Why the named component is unavailable, or null when it is there. */
export function componentMissing(name, env = process.env) {
  const c = COMPONENTS.find((x) => x.name === name);
  if (!c) throw new Error(`unknown component "${name}" (known: ${COMPONENTS.map((x) => x.name).join(', ')})`);
  return c.gst ? gstMissing() : binaryMissing(c.binary, env, c);
}

/** Every missing component with its reason and packages. */
export function missingComponents(env = process.env) {
  return COMPONENTS.map((c) => ({ ...c, why: componentMissing(c.name, env) })).filter((c) => c.why);
}

function main(argv) {
  const missing = missingComponents();
  if (argv[0] === 'packages') {
    console.log([...new Set(missing.flatMap((c) => c.packages))].join(' '));
    return 0;
  }
  if (argv[0] === 'check') {
    for (const c of missing) console.error(`missing ${c.name}: ${c.why} (Debian: ${c.packages.join(' ')})`);
    if (missing.length === 0)
      console.log(`system components present: ${COMPONENTS.map((c) => c.name).join(', ')}`);
    return missing.length ? 1 : 0;
  }
  console.error('usage: system-deps.mjs packages|check');
  return 2;
}

// run as a script, not bundled into another one (npm run bench bundles the helpers: there
// import.meta.url is the bundle, which is also argv[1])
const self = fileURLToPath(import.meta.url);
if (process.argv[1] === self && self.endsWith('system-deps.mjs'))
  process.exitCode = main(process.argv.slice(2));
