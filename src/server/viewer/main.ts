// Vigil's live page: one tile per stream, JPEG frames over WebSocket, overlay drawn from metadata.

interface Detection {
  box: [number, number, number, number];
  score: number;
  label?: string;
  landmarks?: Array<[number, number]>;
}
interface FrameHeader {
  stream: string;
  seq: number;
  captureTs: number;
  width: number;
  height: number;
  detections: Detection[];
  annotated: boolean;
}
interface Status {
  id: string;
  state: string;
  lastError?: string;
  attempts: number;
}
interface Tile {
  root: HTMLElement;
  video: HTMLCanvasElement;
  overlay: HTMLCanvasElement;
  state: HTMLElement;
  fps: HTMLElement;
  latency: HTMLElement;
  error: HTMLElement;
  shown: number[];
  decoding: boolean;
  pending?: { header: FrameHeader; jpeg: Blob };
  lastHeader?: FrameHeader;
}

const tiles = new Map<string, Tile>();
const grid = document.getElementById('grid') as HTMLElement;
const conn = document.getElementById('conn') as HTMLElement;
const overlayToggle = document.getElementById('overlay') as HTMLInputElement;
let clockOffset = 0; // server clock - page clock, ms
let ws: WebSocket | undefined;
let retryMs = 500;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  parent?: HTMLElement,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  parent?.appendChild(e);
  return e;
}

function tile(id: string): Tile {
  let t = tiles.get(id);
  if (t) return t;
  const root = el('section', 'tile', grid);
  root.dataset.stream = id;
  const view = el('div', 'view', root);
  const video = el('canvas', 'video', view);
  const overlay = el('canvas', 'overlay', view);
  const info = el('div', 'info', root);
  el('strong', '', info).textContent = id;
  const state = el('span', 'badge state', info);
  const fps = el('span', 'fps', info);
  const latency = el('span', 'latency', info);
  const error = el('span', 'err', info);
  root.addEventListener('click', () => root.classList.toggle('big'));
  t = { root, video, overlay, state, fps, latency, error, shown: [], decoding: false };
  tiles.set(id, t);
  return t;
}

function setStatus(s: Status): void {
  const t = tile(s.id);
  t.state.textContent = s.state;
  t.state.className = `badge state ${s.state}`;
  t.root.dataset.state = s.state;
  t.error.textContent = s.state === 'live' ? '' : (s.lastError ?? '');
}

function drawOverlay(t: Tile, h: FrameHeader): void {
  const c = t.overlay;
  if (c.width !== h.width || c.height !== h.height) {
    c.width = h.width;
    c.height = h.height;
  }
  const g = c.getContext('2d') as CanvasRenderingContext2D;
  g.clearRect(0, 0, c.width, c.height);
  // Frames with burnt-in boxes (output.burnIn) need no overlay.
  if (!overlayToggle.checked || h.annotated) return;
  g.lineWidth = 2;
  g.font = '13px sans-serif';
  for (const d of h.detections) {
    const color = d.label === 'unknown' ? '#ffab00' : '#00c853';
    const [x1, y1, x2, y2] = d.box;
    g.strokeStyle = color;
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${d.label ?? 'face'} ${d.score.toFixed(2)}`;
    const w = g.measureText(text).width + 8;
    const ty = y1 >= 18 ? y1 - 18 : y2;
    g.fillStyle = color;
    g.fillRect(x1, ty, w, 18);
    g.fillStyle = '#000';
    g.fillText(text, x1 + 4, ty + 13);
  }
}

async function show(t: Tile, header: FrameHeader, jpeg: Blob): Promise<void> {
  // Newest frame wins: while one is being decoded, only the latest arrival is kept.
  if (t.decoding) {
    t.pending = { header, jpeg };
    return;
  }
  t.decoding = true;
  try {
    const bmp = await createImageBitmap(jpeg);
    if (t.video.width !== bmp.width || t.video.height !== bmp.height) {
      t.video.width = bmp.width;
      t.video.height = bmp.height;
    }
    (t.video.getContext('2d') as CanvasRenderingContext2D).drawImage(bmp, 0, 0);
    bmp.close();
    drawOverlay(t, header);
    t.lastHeader = header;
    const now = Date.now();
    t.shown.push(now);
    while (t.shown.length && (t.shown[0] as number) < now - 2000) t.shown.shift();
    const latency = now + clockOffset - header.captureTs;
    t.fps.textContent = `${(t.shown.length / 2).toFixed(1)} fps`;
    t.latency.textContent = `${Math.max(0, latency).toFixed(0)} ms`;
    if (header.seq % 15 === 0 && ws?.readyState === WebSocket.OPEN && latency >= 0) {
      ws.send(
        JSON.stringify({ type: 'displayed', stream: header.stream, seq: header.seq, latencyMs: latency }),
      );
    }
  } finally {
    t.decoding = false;
    const next = t.pending;
    t.pending = undefined;
    if (next) void show(t, next.header, next.jpeg);
  }
}

function onBinary(buf: ArrayBuffer): void {
  const len = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, len))) as FrameHeader;
  const jpeg = new Blob([new Uint8Array(buf, 4 + len)], { type: 'image/jpeg' });
  void show(tile(header.stream), header, jpeg);
}

function connect(): void {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const sock = new WebSocket(`${proto}://${location.host}/ws`);
  sock.binaryType = 'arraybuffer';
  ws = sock;
  conn.textContent = 'connecting';
  conn.className = 'badge connecting';
  let pinger: number | undefined;
  sock.onopen = () => {
    retryMs = 500;
    conn.textContent = 'connected';
    conn.className = 'badge open';
    sock.send(JSON.stringify({ type: 'subscribe', streams: '*' }));
    const ping = () => sock.send(JSON.stringify({ type: 'ping', t: Date.now() }));
    ping();
    pinger = window.setInterval(ping, 10_000);
  };
  sock.onmessage = (ev) => {
    if (ev.data instanceof ArrayBuffer) return onBinary(ev.data);
    const m = JSON.parse(ev.data as string);
    if (m.type === 'hello') for (const s of m.streams as Status[]) setStatus(s);
    else if (m.type === 'status') setStatus(m.status as Status);
    else if (m.type === 'pong') {
      const now = Date.now();
      clockOffset = m.serverTs - (m.t + now) / 2;
    }
  };
  sock.onclose = () => {
    window.clearInterval(pinger);
    conn.textContent = 'disconnected';
    conn.className = 'badge closed';
    // The server restarted or the network dropped: reconnect with backoff.
    window.setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };
}

overlayToggle.addEventListener('change', () => {
  for (const t of tiles.values()) if (t.lastHeader) drawOverlay(t, t.lastHeader);
});
connect();
