#!/usr/bin/env node
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Vigil } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import { PROJECT_ROOT } from './inference/model-loader.js';
import { resolveFfmpeg } from './sources/ffmpeg.js';

const DEFAULT_CONFIG = join(PROJECT_ROOT, 'config', 'default.yaml');

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function fail(e: unknown): never {
  process.stderr.write(`vigil: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
  process.exit(2);
}

const program = new Command()
  .name('vigil')
  .description('Real-time streaming video processor: live streams in, annotated frames out over WebSocket');

program
  .command('run', { isDefault: true })
  .description('start the service (default: the embedded demo in config/default.yaml)')
  .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
  .option('-p, --port <n>', 'override server.port', port)
  .option('-H, --host <addr>', 'override server.host')
  .action(async (o: { config: string; port?: number; host?: string }) => {
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(o.config);
    } catch (e) {
      fail(e);
    }
    if (o.port !== undefined) config.server.port = o.port;
    if (o.host) config.server.host = o.host;
    let vigil: Vigil;
    try {
      vigil = await Vigil.start(config);
    } catch (e) {
      fail(e);
    }
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      vigil.log.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      vigil.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });

program
  .command('check')
  .description('validate a configuration file and exit')
  .argument('<file>', 'YAML configuration')
  .action((file: string) => {
    try {
      const c = loadConfig(file);
      process.stdout.write(`${file}: OK (${c.streams.length} stream(s), pipeline ${c.pipeline})\n`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('doctor')
  .description('show which ffmpeg and inference backend Vigil would use')
  .action(async () => {
    const ff = resolveFfmpeg();
    process.stdout.write(
      `ffmpeg: ${ff.path} (${ff.version}, ${ff.source}), RTSP socket timeout flag -${ff.rtspSocketTimeoutFlag}\n`,
    );
    const { createTfjsEngine } = await import('./inference/tfjs-engine.js');
    const e = await createTfjsEngine('auto');
    process.stdout.write(`inference: ${e.engine}/${e.backend}\n`);
  });

program.parseAsync().catch(fail);
