// Vigil's live page: the camera grid with overlays and per-camera stats, the alerts panel, and the
// People view (#people). Plain TypeScript bundled by scripts/build-viewer.mjs; nothing from outside.
import { AlertsPanel } from './alerts.js';
import { whenUnauthorized } from './api.js';
import { auth } from './auth.js';
import { type ConnState, Connection } from './connection.js';
import { byId } from './dom.js';
import { PeopleView } from './people.js';
import type { ServerMessage, StyleChoice } from './protocol.js';
import { Grid } from './grid.js';
import { StyleTraining } from './style-training.js';
import type { TileSnapshot } from './tiles.js';

const connBadge = byId('conn');
const pipelineChip = byId('pipeline');
const overlayToggle = byId<HTMLInputElement>('overlay');
const liveView = byId('live-view');
const peopleView = byId('people-view');

const tokenForm = byId<HTMLFormElement>('token-form');
const tokenInput = byId<HTMLInputElement>('token-input');
const tokenMsg = byId('token-msg');
const tokenBtn = byId<HTMLButtonElement>('token-btn');

const proto = location.protocol === 'https:' ? 'wss' : 'ws';
const conn = new Connection(() => `${proto}://${location.host}${auth.url('/ws')}`, {
  onState,
  onRefused,
  onMessage,
  onFrame: (header, jpeg) => void grid.tiles.get(header.stream)?.show(header, jpeg),
});
const grid = new Grid(byId('grid'), conn, syncSubscriptions);
const people = new PeopleView();
const training = new StyleTraining(byId('live-view'));
let styleDefault: StyleChoice = { style: null, strength: 1 };
const alerts = new AlertsPanel(byId('alerts'), () => {
  if (route() === 'people') void people.refresh();
});
let pipeline = '';

/** Receive exactly the streams that can be seen; resume at the newest frame when they can again. */
function syncSubscriptions(): void {
  conn.want(grid.visibleIds());
  for (const t of grid.tiles.values()) t.setSubscribed(conn.subscribed.has(t.id));
}

function onState(s: ConnState): void {
  const text = { connecting: 'connecting', open: 'connected', closed: 'reconnecting' }[s];
  connBadge.textContent = text;
  connBadge.className = `badge ${s}`;
  document.body.dataset.conn = s;
  if (s === 'closed') grid.setOffline();
  syncSubscriptions();
}

/** The socket never opened: if the server wants a token (401), ask for one. */
async function onRefused(): Promise<void> {
  if (!tokenForm.hidden) return;
  try {
    const res = await fetch('/api/streams', { headers: auth.headers() });
    if (res.status === 401) askToken(((await res.json()) as { error?: string }).error ?? '');
  } catch {
    // the server is down: keep retrying
  }
}

function askToken(reason: string): void {
  tokenMsg.textContent = auth.token ? `The saved token was refused: ${reason}` : reason;
  if (tokenForm.hidden) {
    tokenForm.hidden = false;
    tokenInput.focus();
  }
}

function onMessage(m: ServerMessage): void {
  switch (m.type) {
    case 'hello':
      pipeline = m.pipeline;
      pipelineChip.textContent = `${m.pipeline} · ${m.streams.length} camera${m.streams.length === 1 ? '' : 's'}`;
      grid.setStreams(m.streams);
      styleDefault = m.styleDefault ?? styleDefault;
      if (m.styles) grid.setStyles(m.styles, styleDefault);
      training.enable(Boolean(m.styles));
      people.setCameras(m.streams.map((s) => s.id));
      syncSubscriptions();
      void alerts.refresh();
      if (route() === 'people') void people.refresh();
      break;
    case 'status':
      if (grid.tiles.has(m.status.id)) grid.tile(m.status.id).setStatus(m.status);
      break;
    case 'stats':
      for (const [id, r] of Object.entries(m.streams)) grid.tiles.get(id)?.setRates(r);
      break;
    case 'alert':
      alerts.push(m.alert);
      break;
    case 'people':
      if (route() === 'people') void people.refresh();
      break;
    case 'styleTraining':
      training.update(m.job);
      break;
    case 'styles':
      grid.setStyles(m.styles, styleDefault);
      break;
  }
}

function route(): 'live' | 'people' {
  return location.hash === '#people' ? 'people' : 'live';
}

function showRoute(): void {
  const r = route();
  liveView.hidden = r !== 'live';
  peopleView.hidden = r !== 'people';
  document.body.dataset.view = r;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.tabs a'))
    a.classList.toggle('active', a.dataset.view === r);
  if (r === 'people') void people.refresh();
  else grid.redraw();
  // hidden tiles stop intersecting: the IntersectionObserver unsubscribes them
}

overlayToggle.checked = localStorage.getItem('vigil.overlay') !== 'off';
grid.overlayOn = overlayToggle.checked;
overlayToggle.addEventListener('change', () => {
  grid.overlayOn = overlayToggle.checked;
  localStorage.setItem('vigil.overlay', overlayToggle.checked ? 'on' : 'off');
  grid.redraw();
});
document.addEventListener('visibilitychange', syncSubscriptions);
whenUnauthorized(askToken);
tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!tokenInput.value.trim()) return tokenInput.focus();
  auth.set(tokenInput.value);
  tokenInput.value = '';
});
byId('token-forget').addEventListener('click', () => auth.set(undefined));
tokenBtn.addEventListener('click', () => {
  tokenMsg.textContent = 'Paste another token (the admin token also allows enrolling, renaming, deleting).';
  tokenForm.hidden = !tokenForm.hidden;
  if (!tokenForm.hidden) tokenInput.focus();
});
auth.onChange(() => {
  tokenForm.hidden = true;
  tokenBtn.hidden = !auth.token;
  conn.reconnect();
  void alerts.reset();
  if (route() === 'people') void people.refresh();
});
tokenBtn.hidden = !auth.token;
// The API page is opened by a plain link: it carries the token (the page stores it, then drops it from the address)
const apiLink = byId<HTMLAnchorElement>('api-link');
const syncApiLink = () => {
  apiLink.href = auth.url('/api/docs');
};
auth.onChange(syncApiLink);
syncApiLink();
window.addEventListener('hashchange', showRoute);

// Read-only state for tests and for debugging from the console.
const hook = {
  tiles: (): TileSnapshot[] => [...grid.tiles.values()].map((t) => t.snapshot()),
  tile: (id: string): TileSnapshot | undefined => grid.tiles.get(id)?.snapshot(),
  get subscribed(): string[] {
    return [...conn.subscribed];
  },
  get connection(): ConnState {
    return conn.state;
  },
  get clockOffsetMs(): number {
    return conn.clockOffset;
  },
  get pipeline(): string {
    return pipeline;
  },
  alertIds: (): number[] => [...alerts.items.keys()].sort((a, b) => b - a),
};
(window as unknown as { vigil: typeof hook }).vigil = hook;

showRoute();
conn.connect();
