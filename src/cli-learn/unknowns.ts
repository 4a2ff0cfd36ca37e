/** `vigil unknowns` (list), `unknowns name`, `unknowns search`, `unknowns delete`: unknown-face clusters. */
import type { Command } from 'commander';
import { fail, num } from '../cli-options.js';
import { loadConfig } from '../config/load.js';
import type { Gallery } from '../faces/gallery/gallery.js';
import type { UnknownStore } from '../faces/unknowns/store.js';
import { DEFAULT_CONFIG, out } from './options.js';

/** Runs `fn` on the unknown-face store and gallery of a configuration, closed afterwards. */
async function withStore<T>(
  configFile: string,
  fn: (s: { store: UnknownStore; gallery: Gallery }) => Promise<T> | T,
): Promise<T> {
  const { openUnknowns } = await import('../faces/unknowns/open.js');
  const u = await openUnknowns(loadConfig(configFile));
  try {
    return await fn(u);
  } finally {
    u.close();
  }
}

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

export function registerUnknownCommands(program: Command): void {
  const unknowns = program
    .command('unknowns')
    .description('faces nobody enrolled, seen on the cameras, grouped per person');
  registerList(unknowns);
  registerName(unknowns);
  registerSearch(unknowns);
  registerDelete(unknowns);
}

function registerList(unknowns: Command): void {
  unknowns
    .command('list', { isDefault: true })
    .description('list unknown-face clusters (most recently seen first)')
    .option('-c, --config <file>', 'YAML configuration (data directory, pipeline)', DEFAULT_CONFIG)
    .option('--min <n>', 'only clusters seen at least this often', num('--min', 1, 1e9, true), 1)
    .option('--camera <id>', 'only clusters seen on this camera')
    .option('--json', 'JSON output')
    .action(async (o: { config: string; min: number; camera?: string; json?: boolean }) => {
      try {
        const list = await withStore(o.config, ({ store }) =>
          store.list({ minSightings: o.min, camera: o.camera, limit: 1000 }),
        );
        if (o.json) out(list);
        else if (!list.length) out('no unknown faces stored');
        else
          for (const c of list)
            out(
              `${String(c.id).padStart(6)}  ${c.summary} (${c.tracks} track(s), last ${when(c.lastSeen)}, cohesion ${c.cohesion.toFixed(2)})`,
            );
      } catch (e) {
        fail(e);
      }
    });
}

function registerName(unknowns: Command): void {
  unknowns
    .command('name')
    .description("enroll an unknown-face cluster's faces as a person (and remove the cluster)")
    .argument('<cluster>', 'cluster id', num('cluster', 1, Number.MAX_SAFE_INTEGER, true))
    .requiredOption('-n, --name <name>', "the person's name")
    .option('--append', 'add the faces to an existing person of that name')
    .option(
      '--max-photos <n>',
      'most faces enrolled (varied ones are chosen)',
      num('--max-photos', 1, 1000, true),
      20,
    )
    .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
    .action(
      async (cluster: number, o: { name: string; append?: boolean; maxPhotos: number; config: string }) => {
        try {
          const r = await withStore(o.config, ({ store, gallery }) =>
            store.name(cluster, o.name, gallery, { maxPhotos: o.maxPhotos, append: o.append }),
          );
          out(
            `enrolled ${r.person.name} (id ${r.person.id}) with ${r.photos} face(s) of ${r.sightings} sighting(s); cluster ${cluster} removed`,
          );
        } catch (e) {
          fail(e);
        }
      },
    );
}

function registerSearch(unknowns: Command): void {
  unknowns
    .command('search')
    .description('past sightings among stored unknown faces that match an enrolled person')
    .requiredOption('-p, --person <name>', 'enrolled person (name or id)')
    .option(
      '--threshold <sim>',
      'similarity threshold (default: the calibrated one)',
      num('--threshold', -1, 1),
    )
    .option('--limit <n>', 'most sightings listed', num('--limit', 1, 100000, true), 200)
    .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
    .option('--json', 'JSON output')
    .action(
      async (o: { person: string; threshold?: number; limit: number; config: string; json?: boolean }) => {
        try {
          const hits = await withStore(o.config, ({ store, gallery }) => {
            const p = /^\d+$/.test(o.person)
              ? gallery.person(Number(o.person))
              : gallery.findByName(o.person);
            if (!p) throw new Error(`nobody named "${o.person}" is enrolled`);
            return store.searchPerson(p.id, gallery, { threshold: o.threshold, limit: o.limit });
          });
          if (o.json) out(hits);
          else if (!hits.length) out('no matching sightings');
          else
            for (const h of hits)
              out(
                `${when(h.time)}  camera ${h.camera}  track ${h.trackId}  similarity ${h.similarity.toFixed(3)}  (cluster ${h.clusterId}, sighting ${h.id})`,
              );
        } catch (e) {
          fail(e);
        }
      },
    );
}

function registerDelete(unknowns: Command): void {
  unknowns
    .command('delete')
    .description('forget an unknown-face cluster and its sightings')
    .argument('<cluster>', 'cluster id', num('cluster', 1, Number.MAX_SAFE_INTEGER, true))
    .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
    .action(async (cluster: number, o: { config: string }) => {
      try {
        await withStore(o.config, ({ store }) => store.deleteCluster(cluster));
        out(`cluster ${cluster} deleted`);
      } catch (e) {
        fail(e);
      }
    });
}
