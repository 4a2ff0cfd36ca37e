// The People view (#people): enrolled people with thumbnails; enroll from a photo or from the face on a
// live camera now; rename; delete (confirmed). The server's error messages are shown as they are.
import { ApiError, api, message } from './api.js';
import { auth } from './auth.js';
import { byId, el } from './dom.js';
import type { Person } from './protocol.js';

/** The parts of a person's card that renaming and deleting change. */
interface CardParts {
  body: HTMLElement;
  title: HTMLElement;
  actions: HTMLElement;
  msg: HTMLElement;
}

export class PeopleView {
  people: Person[] = [];
  private readonly list = byId<HTMLUListElement>('people-list');
  private readonly count = byId('people-count');
  private readonly form = byId<HTMLFormElement>('add-person');
  private readonly name = byId<HTMLInputElement>('person-name');
  private readonly file = byId<HTMLInputElement>('person-photo');
  private readonly preview = byId<HTMLImageElement>('person-preview');
  private readonly camera = byId<HTMLSelectElement>('person-camera');
  private readonly take = byId<HTMLButtonElement>('take-face');
  private readonly upload = byId<HTMLButtonElement>('upload-photo');
  private readonly msg = byId('add-msg');
  private readonly note = byId('people-note');
  private previewUrl: string | undefined;

  constructor() {
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.enrollPhoto();
    });
    this.take.addEventListener('click', () => void this.enrollFromCamera());
    this.file.addEventListener('change', () => {
      if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
      const f = this.file.files?.[0];
      this.previewUrl = f ? URL.createObjectURL(f) : undefined;
      this.preview.hidden = !f;
      if (this.previewUrl) this.preview.src = this.previewUrl;
      if (f && !this.name.value.trim()) this.name.focus();
    });
  }

  setCameras(ids: string[]): void {
    const cur = this.camera.value;
    this.camera.replaceChildren(...ids.map((id) => el('option', { text: id, attrs: { value: id } })));
    if (ids.includes(cur)) this.camera.value = cur;
    this.take.disabled = ids.length === 0;
  }

  async refresh(): Promise<void> {
    try {
      this.people = await api<Person[]>('/api/people');
      this.note.hidden = true;
      this.form.classList.remove('disabled');
      this.render();
    } catch (e) {
      this.note.hidden = false;
      this.note.textContent =
        e instanceof ApiError && e.status === 409 ? `People are unavailable: ${e.message}` : message(e);
      if (e instanceof ApiError && e.status === 409) this.form.classList.add('disabled');
    }
  }

  private say(text: string, kind: 'ok' | 'error' | '' = ''): void {
    this.msg.textContent = text;
    this.msg.className = `msg ${kind}`;
  }

  private requireName(): string | undefined {
    const name = this.name.value.trim();
    if (!name) {
      this.say('Type the person’s name first.', 'error');
      this.name.focus();
      return undefined;
    }
    return name;
  }

  private async enrollPhoto(): Promise<void> {
    const name = this.requireName();
    if (name === undefined) return;
    const f = this.file.files?.[0];
    if (!f) {
      this.say('Choose a photo with one face first (JPEG, PNG or WebP).', 'error');
      return;
    }
    await this.enroll(`/api/people?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'content-type': f.type || 'application/octet-stream' },
      body: f,
    });
  }

  private async enrollFromCamera(): Promise<void> {
    const name = this.requireName();
    if (name === undefined) return;
    const cam = this.camera.value;
    if (!cam) return this.say('No camera to take a face from.', 'error');
    await this.enroll(`/api/people/from-stream/${encodeURIComponent(cam)}?name=${encodeURIComponent(name)}`, {
      method: 'POST',
    });
  }

  private async enroll(path: string, init: RequestInit): Promise<void> {
    this.upload.disabled = this.take.disabled = true;
    this.say('Enrolling…');
    try {
      const p = await api<Person>(path, init);
      this.say(`Enrolled ${p.name}.`, 'ok');
      this.form.reset();
      this.preview.hidden = true;
      await this.refresh();
      this.list.querySelector(`[data-id="${p.id}"]`)?.classList.add('fresh');
    } catch (e) {
      this.say(message(e), 'error');
    } finally {
      this.upload.disabled = false;
      this.take.disabled = this.camera.options.length === 0;
    }
  }

  private render(): void {
    this.count.textContent = `${this.people.length} enrolled`;
    this.list.replaceChildren(...this.people.map((p) => this.card(p)));
    if (!this.people.length)
      this.list.appendChild(
        el('li', { className: 'empty', text: 'Nobody is enrolled yet: add a photo above.' }),
      );
  }

  private card(p: Person): HTMLElement {
    const li = el('li', { className: 'person', attrs: { 'data-id': String(p.id), 'data-name': p.name } });
    el(
      'img',
      {
        className: 'thumb',
        attrs: {
          src: auth.url(`${p.thumbnail_url}?v=${p.photos}`),
          alt: p.name,
          loading: 'lazy',
          decoding: 'async',
        },
      },
      li,
    );
    const body = el('div', { className: 'body' }, li);
    const title = el('div', { className: 'pname', text: p.name }, body);
    const photos = `${p.photos} photo${p.photos === 1 ? '' : 's'}`;
    const meta = el(
      'div',
      {
        className: 'meta',
        text: `${photos} · added ${new Date(p.createdAt).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' })}`,
      },
      body,
    );
    if (p.embedded < p.photos) {
      el(
        'span',
        {
          className: 'warn',
          text: ` · ${p.photos - p.embedded} not embedded`,
          title: 'run `vigil reembed` for the current model',
        },
        meta,
      );
    }
    const actions = el('div', { className: 'actions' }, body);
    const rename = el('button', { className: 'small ghost rename', text: 'Rename' }, actions);
    const del = el('button', { className: 'small ghost danger delete', text: 'Delete' }, actions);
    const msg = el('div', { className: 'msg' }, body);

    const parts: CardParts = { body, title, actions, msg };
    rename.addEventListener('click', () => this.startRename(p, parts));
    del.addEventListener('click', () => this.confirmDelete(p, parts));
    return li;
  }

  /** Swaps the name for an inline form; saving PATCHes the person and reloads the list. */
  private startRename(p: Person, { title, actions, msg }: CardParts): void {
    const form = el('form', { className: 'inline rename-form' });
    const input = el('input', { attrs: { name: 'name', value: p.name, autocomplete: 'off' } }, form);
    el('button', { className: 'small primary', text: 'Save', attrs: { type: 'submit' } }, form);
    const cancel = el(
      'button',
      { className: 'small ghost', text: 'Cancel', attrs: { type: 'button' } },
      form,
    );
    title.replaceWith(form);
    actions.hidden = true;
    input.select();
    const close = () => {
      form.replaceWith(title);
      actions.hidden = false;
    };
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api<Person>(`/api/people/${p.id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: input.value }),
        });
        await this.refresh();
      } catch (err) {
        msg.className = 'msg error';
        msg.textContent = message(err);
        input.focus();
      }
    });
  }

  /** Asks before deleting; a confirmed delete removes the person and reloads the list. */
  private confirmDelete(p: Person, { body, actions, msg }: CardParts): void {
    actions.hidden = true;
    const confirmBox = el('div', { className: 'confirm' }, body);
    el('span', { text: `Delete ${p.name} and their photos?` }, confirmBox);
    const yes = el('button', { className: 'small danger confirm-delete', text: 'Delete' }, confirmBox);
    const no = el('button', { className: 'small ghost', text: 'Keep' }, confirmBox);
    no.addEventListener('click', () => {
      confirmBox.remove();
      actions.hidden = false;
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        await api<void>(`/api/people/${p.id}`, { method: 'DELETE' });
        await this.refresh();
      } catch (err) {
        confirmBox.remove();
        actions.hidden = false;
        msg.className = 'msg error';
        msg.textContent = message(err);
      }
    });
  }
}
