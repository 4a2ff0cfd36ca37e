// The API page (/api/docs): lists every route of /api/openapi.json with its parameters, request
// body and responses. Built into the page itself (scripts/build-viewer.mjs): nothing from a CDN.
import { auth } from './auth.js';
import { byId, el } from './dom.js';

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}
interface Operation {
  summary?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
}
interface Document {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
}

const routesEl = byId('routes');

function parametersTable(params: Parameter[], parent: HTMLElement): void {
  if (!params.length) return;
  const table = el('table', {}, parent);
  const head = el('tr', {}, table);
  for (const h of ['parameter', 'in', '', 'description']) el('th', { text: h }, head);
  for (const p of params) {
    const row = el('tr', {}, table);
    el('td', {}, row).append(el('code', { text: p.name }));
    el('td', { text: p.in }, row);
    el('td', { text: p.required ? 'required' : 'optional' }, row);
    const pattern = typeof p.schema?.pattern === 'string' ? ` (${p.schema.pattern})` : '';
    el('td', { text: `${p.description ?? ''}${pattern}` }, row);
  }
}

function bodySection(body: NonNullable<Operation['requestBody']>, parent: HTMLElement): void {
  const types = Object.keys(body.content);
  el('div', { text: `Body${body.required ? '' : ' (optional)'}: ${types.join(', ')}` }, parent);
  const json = body.content['application/json']?.schema;
  if (json) el('pre', { text: JSON.stringify(json, null, 2) }, parent);
}

function responsesTable(responses: Operation['responses'], parent: HTMLElement): void {
  const table = el('table', {}, parent);
  const head = el('tr', {}, table);
  for (const h of ['status', 'when', 'type']) el('th', { text: h }, head);
  for (const [status, r] of Object.entries(responses)) {
    const row = el('tr', {}, table);
    el('td', { text: status }, row);
    el('td', { text: r.description }, row);
    el('td', { text: Object.keys(r.content ?? {}).join(', ') }, row);
  }
}

function operation(method: string, path: string, op: Operation): HTMLElement {
  const box = el('details', { className: 'op', attrs: { 'data-route': `${method.toUpperCase()} ${path}` } });
  const summary = el('summary', {}, box);
  el('span', { className: 'method', text: method.toUpperCase() }, summary);
  el('span', { className: 'path', text: path }, summary);
  el('span', { className: 'muted', text: ` ${op.summary ?? ''}` }, summary);
  parametersTable(op.parameters ?? [], box);
  if (op.requestBody) bodySection(op.requestBody, box);
  responsesTable(op.responses, box);
  return box;
}

function render(doc: Document): void {
  let count = 0;
  const groups = new Map<string, HTMLElement>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    const group = path.split('/')[2] ?? 'api';
    let section = groups.get(group);
    if (!section) {
      section = el('section', {}, routesEl);
      el('h2', { text: group }, section);
      groups.set(group, section);
    }
    for (const [method, op] of Object.entries(ops)) {
      section.append(operation(method, path, op));
      count++;
    }
  }
  byId('summary').textContent =
    `${doc.info.title} ${doc.info.version}: ${count} routes. ${doc.info.description ?? ''}`;
}

async function load(): Promise<void> {
  const res = await fetch('/api/openapi.json', { headers: auth.headers() });
  const body = (await res.json()) as Document | { error?: string };
  if (!res.ok) throw new Error(('error' in body && body.error) || `HTTP ${res.status}`);
  render(body as Document);
}

byId<HTMLAnchorElement>('doc-link').href = auth.url('/api/openapi.json');
load().catch((e: unknown) => {
  const p = byId('error');
  p.hidden = false;
  p.textContent = `Cannot load the API document: ${e instanceof Error ? e.message : String(e)}`;
});
