// The alerts panel: live `alert` events (newest first), history paged from GET /api/alerts, and
// enrolling an unknown face from its snapshot in two clicks (Enroll -> name -> Save).
import { feedbackUi } from './alert-feedback.js';
import { ApiError, api, message } from './api.js';
import { auth } from './auth.js';
import { el, formatTime } from './dom.js';
import type { FaceAlert, Person } from './protocol.js';

/** Alerts per history page (?alertsPage=N overrides it, 1-100). */
const PAGE = Math.min(100, Math.max(1, Number(new URLSearchParams(location.search).get('alertsPage')) || 25));
/** Alerts kept in the DOM; older ones are paged in again on demand. */
const MAX_ITEMS = 300;

export class AlertsPanel {
  readonly items = new Map<number, HTMLElement>();
  private readonly list: HTMLOListElement;
  private readonly note: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly count: HTMLElement;
  /** Whether the newest page was loaded once (its length tells whether older alerts exist). */
  private loadedNewest = false;
  private loading = false;
  private exhausted = false;
  private unseen = 0;

  constructor(
    readonly root: HTMLElement,
    /** Called after a person was enrolled from an alert. */
    private readonly onEnrolled: (p: Person) => void,
  ) {
    const head = el('div', { className: 'panel-head' }, root);
    el('h2', { text: 'Alerts' }, head);
    this.count = el('span', { className: 'count', text: '' }, head);
    this.note = el('p', { className: 'panel-note' }, root);
    this.note.hidden = true;
    this.list = el('ol', { className: 'alert-list' }, root);
    this.more = el('button', { className: 'more ghost', text: 'Load older alerts' }, root);
    this.more.hidden = true;
    this.more.addEventListener('click', () => void this.loadOlder());
    root.addEventListener('scroll', () => {
      if (root.scrollTop < 20) this.markSeen();
    });
  }

  /** Forgets every alert shown (a new token: the snapshots' URLs change) and loads them again. */
  async reset(): Promise<void> {
    this.items.clear();
    this.list.replaceChildren();
    this.loadedNewest = false;
    this.exhausted = false;
    this.unseen = 0;
    await this.refresh();
  }

  /** (Re)loads the newest page: on start and after a reconnect (alerts missed meanwhile). */
  async refresh(): Promise<void> {
    try {
      const page = await api<FaceAlert[]>(`/api/alerts?limit=${PAGE}`);
      this.note.hidden = true;
      for (const a of [...page].reverse()) this.add(a, 'top');
      if (!this.loadedNewest) {
        this.loadedNewest = true;
        this.exhausted = page.length < PAGE;
      }
      this.updateFooter();
    } catch (e) {
      this.showNote(e);
    }
  }

  async loadOlder(): Promise<void> {
    if (this.loading || this.exhausted) return;
    this.loading = true;
    this.more.disabled = true;
    try {
      // The cursor is the oldest alert shown, not the last page's end: a live alert that arrived
      // before the first page must not move it (it did, and 'Load older' then skipped alerts).
      const oldest = this.oldest();
      const q = oldest !== undefined ? `&before=${oldest}` : '';
      const page = await api<FaceAlert[]>(`/api/alerts?limit=${PAGE}${q}`);
      for (const a of page) this.add(a, 'bottom');
      this.exhausted = page.length < PAGE;
    } catch (e) {
      this.showNote(e);
    } finally {
      this.loading = false;
      this.more.disabled = false;
      this.updateFooter();
    }
  }

  /** A live alert from the WebSocket. */
  push(a: FaceAlert): void {
    if (this.items.has(a.id)) return;
    this.add(a, 'top');
    this.note.hidden = true;
    if (this.root.scrollTop > 20) this.unseen++;
    this.updateFooter();
  }

  /** The id of the oldest alert on screen: where 'Load older' continues. */
  private oldest(): number | undefined {
    let min: number | undefined;
    for (const id of this.items.keys()) if (min === undefined || id < min) min = id;
    return min;
  }

  private showNote(e: unknown): void {
    this.note.hidden = false;
    this.note.textContent =
      e instanceof ApiError && e.status === 409
        ? `Alerts are off: ${e.message}`
        : e instanceof ApiError && e.status === 401
          ? 'Alerts appear once the access token is given.'
          : `Alerts: ${message(e)}`;
  }

  private markSeen(): void {
    this.unseen = 0;
    this.updateFooter();
  }

  private updateFooter(): void {
    this.more.hidden = this.exhausted || this.items.size === 0;
    const n = this.items.size;
    this.count.textContent = n
      ? `${n}${this.exhausted ? '' : '+'}${this.unseen ? ` · ${this.unseen} new ↑` : ''}`
      : '';
    if (!n && this.note.hidden) {
      this.list.dataset.empty = 'No alerts yet: recognised people and unknown faces appear here.';
    } else delete this.list.dataset.empty;
  }

  /** Inserts in id order (newest first) wherever it belongs. */
  private add(a: FaceAlert, where: 'top' | 'bottom'): void {
    if (this.items.has(a.id)) return;
    const li = this.render(a);
    this.items.set(a.id, li);
    if (where === 'bottom') this.list.appendChild(li);
    else {
      let before: Element | null = this.list.firstElementChild;
      while (before && Number((before as HTMLElement).dataset.id) > a.id) before = before.nextElementSibling;
      this.list.insertBefore(li, before);
    }
    while (this.items.size > MAX_ITEMS) {
      const last = this.list.lastElementChild as HTMLElement | null;
      if (!last) break;
      this.items.delete(Number(last.dataset.id));
      last.remove();
      this.exhausted = false;
    }
  }

  private render(a: FaceAlert): HTMLElement {
    const unknown = a.sub_label === 'unknown';
    const li = el('li', {
      className: `alert ${unknown ? 'unknown' : 'known'}`,
      attrs: { 'data-id': String(a.id) },
    });
    const fig = el('div', { className: 'snap' }, li);
    if (a.has_snapshot) {
      const img = el(
        'img',
        { attrs: { alt: `face of ${a.sub_label}`, src: auth.url(a.snapshot_url), decoding: 'async' } },
        fig,
      );
      img.addEventListener('error', () => fig.classList.add('missing'));
    } else fig.classList.add('missing');
    const body = el('div', { className: 'body' }, li);
    const who = el('div', { className: 'who' }, body);
    el('span', { className: 'name', text: a.sub_label }, who);
    el(
      'span',
      {
        className: 'score',
        text: a.score.toFixed(2),
        title: unknown ? 'similarity to the nearest enrolled person' : 'similarity',
      },
      who,
    );
    el(
      'div',
      {
        className: 'meta',
        text: `${a.camera} · track #${a.track_id} · ${formatTime(a.start_time * 1000)}`,
        title: new Date(a.start_time * 1000).toString(),
      },
      body,
    );
    if (unknown && a.has_snapshot) this.enrollUi(a, body);
    feedbackUi(a, body);
    return li;
  }

  private enrollUi(a: FaceAlert, body: HTMLElement): void {
    const btn = el('button', { className: 'enroll small', text: 'Enroll' }, body);
    const form = el('form', { className: 'enroll-form' }, body);
    form.hidden = true;
    const input = el(
      'input',
      { attrs: { name: 'name', placeholder: 'Name', autocomplete: 'off', required: '' } },
      form,
    );
    const save = el('button', { className: 'small primary', text: 'Save', attrs: { type: 'submit' } }, form);
    const cancel = el(
      'button',
      { className: 'small ghost', text: 'Cancel', attrs: { type: 'button' } },
      form,
    );
    const msg = el('div', { className: 'msg' }, body);
    btn.addEventListener('click', () => {
      btn.hidden = true;
      form.hidden = false;
      msg.textContent = '';
      input.focus();
    });
    cancel.addEventListener('click', () => {
      form.hidden = true;
      btn.hidden = false;
      msg.textContent = '';
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (!name) return input.focus();
      save.disabled = true;
      msg.className = 'msg';
      msg.textContent = 'Enrolling…';
      try {
        const p = await api<Person>(`/api/people/from-alert/${a.id}?name=${encodeURIComponent(name)}`, {
          method: 'POST',
        });
        form.remove();
        btn.remove();
        msg.className = 'msg ok';
        msg.textContent = `Enrolled as ${p.name}`;
        this.onEnrolled(p);
      } catch (err) {
        msg.className = 'msg error';
        msg.textContent = message(err);
        input.focus();
      } finally {
        save.disabled = false;
      }
    });
  }
}
