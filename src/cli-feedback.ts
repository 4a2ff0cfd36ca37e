/**
 * `vigil feedback ...`: operator feedback on alerts from the command line, on the same gallery
 * database the service uses (a running service picks the change up within a second):
 *   vigil feedback list [--alert ID] [--json]
 *   vigil feedback wrong|correct <alertId> [--person ID]
 *   vigil feedback ignore <alertId> [--everywhere]
 *   vigil feedback undo <feedbackId>
 * Each change is recorded in the audit log (actor "local"), as the API records it.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from './config/load.js';
import type { FeedbackEntry } from './faces/gallery/feedback.js';

const id = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not an id (1, 2, ...)`);
  return n;
};

const describe = (e: FeedbackEntry) =>
  `${String(e.id).padStart(5)}  ${e.verdict.padEnd(7)}  alert ${e.alertId ?? '-'}  ` +
  (e.verdict === 'ignore' ? `camera ${e.camera ?? '(everywhere)'}` : `person ${e.personId}`) +
  (e.note ? `  (${e.note})` : '');

/** Opens the gallery, a face service and the stores, runs `fn`, closes them. */
async function withFeedback<T>(
  configFile: string,
  fn: (f: {
    service: import('./faces/service.js').FaceService;
    alerts: import('./faces/alerts.js').AlertStore;
    store: import('./faces/gallery/feedback.js').FeedbackStore;
    audit: (action: 'feedback' | 'undo-feedback', e: FeedbackEntry) => void;
  }) => Promise<T>,
): Promise<T> {
  const [{ openFaces }, { AlertStore }, { FeedbackStore }, { AuditLog }] = await Promise.all([
    import('./faces/open.js'),
    import('./faces/alerts.js'),
    import('./faces/gallery/feedback.js'),
    import('./faces/audit.js'),
  ]);
  const f = await openFaces(loadConfig(configFile));
  try {
    const log = new AuditLog(f.gallery.db);
    return await fn({
      service: f.service,
      alerts: new AlertStore(f.gallery.db),
      store: new FeedbackStore(f.gallery),
      audit: (action, e) =>
        log.record({
          actor: 'local',
          action,
          personId: e.personId,
          detail: {
            feedbackId: e.id,
            verdict: e.verdict,
            alertId: e.alertId,
            camera: e.camera,
            source: 'cli',
          },
        }),
    });
  } finally {
    await f.close();
  }
}

export function registerFeedbackCommands(
  program: Command,
  defaultConfig: string,
  fail: (e: unknown) => never,
) {
  const cmd = program
    .command('feedback')
    .description('operator feedback on alerts: wrong, correct, ignore, undo');
  const config = ['-c, --config <file>', 'YAML configuration', defaultConfig] as const;
  const print = (s: string) => process.stdout.write(`${s}\n`);
  cmd
    .command('list')
    .description('the feedback entries, newest first')
    .option('--alert <id>', 'only the entries of this alert', id)
    .option('--json', 'JSON output')
    .option(...config)
    .action(async (o: { alert?: number; json?: boolean; config: string }) => {
      try {
        const list = await withFeedback(o.config, async (f) => f.store.list({ alertId: o.alert }));
        if (o.json) print(JSON.stringify(list, null, 2));
        else print(list.length ? list.map(describe).join('\n') : 'no feedback');
      } catch (e) {
        fail(e);
      }
    });
  for (const verdict of ['wrong', 'correct'] as const)
    cmd
      .command(verdict)
      .description(
        verdict === 'wrong'
          ? "the alert's face is not this person: it becomes a negative of them"
          : "the alert's face is this person: it joins their photos (unless nearly identical, or at the cap)",
      )
      .argument('<alertId>', 'the alert', id)
      .option('--person <id>', 'the person (default: the one the alert named)', id)
      .option(...config)
      .action(async (alertId: number, o: { person?: number; config: string }) => {
        try {
          const { alertVerdict } = await import('./faces/alert-feedback.js');
          const e = await withFeedback(o.config, async (f) => {
            const entry = await alertVerdict(f.service, f.alerts, f.store, alertId, {
              verdict,
              personId: o.person,
            });
            f.audit('feedback', entry);
            return entry;
          });
          print(`recorded: ${describe(e)}; undo with: vigil feedback undo ${e.id}`);
        } catch (err) {
          fail(err);
        }
      });
  registerIgnoreAndUndo(cmd, config, print, fail);
}

function registerIgnoreAndUndo(
  cmd: Command,
  config: readonly [string, string, string],
  print: (s: string) => void,
  fail: (e: unknown) => never,
) {
  cmd
    .command('ignore')
    .description(
      "never name or alert on the alert's face again (a poster, a TV): on its camera, or everywhere",
    )
    .argument('<alertId>', 'the alert', id)
    .option('--everywhere', 'on every camera, not only the alert’s')
    .option(...config)
    .action(async (alertId: number, o: { everywhere?: boolean; config: string }) => {
      try {
        const { ignoreAlertFace } = await import('./faces/alert-feedback.js');
        const e = await withFeedback(o.config, async (f) => {
          const scope = o.everywhere ? 'everywhere' : 'camera';
          const entry = await ignoreAlertFace(f.service, f.alerts, f.store, alertId, scope);
          f.audit('feedback', entry);
          return entry;
        });
        print(`recorded: ${describe(e)}; undo with: vigil feedback undo ${e.id}`);
      } catch (err) {
        fail(err);
      }
    });
  cmd
    .command('undo')
    .description('undo a feedback entry (and remove the photo a "correct" added)')
    .argument('<feedbackId>', 'the entry', id)
    .option(...config)
    .action(async (feedbackId: number, o: { config: string }) => {
      try {
        const e = await withFeedback(o.config, async (f) => {
          const entry = f.store.undo(feedbackId);
          f.audit('undo-feedback', entry);
          return entry;
        });
        print(`undone: ${describe(e)}`);
      } catch (err) {
        fail(err);
      }
    });
}
