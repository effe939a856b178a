// A few DOM helpers, so pages read as the markup they build. Text is always
// set as text (never parsed as HTML): prompts, answers and key names come
// from outside and must not become markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Creates an element: `h('a', { href: '/logs', class: 'link' }, 'Logs')`.
 * `on<event>` attributes become listeners; `false`/`null` attributes are left out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  element.append(...flatten(children));
  return element;
}

function flatten(children: Child[]): (Node | string)[] {
  return children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c));
}

/** Replaces an element's children. */
export function fill(element: Element, ...children: Child[]): void {
  element.replaceChildren(...flatten(children));
}

/** A form control's value by its name, trimmed. */
export function field(form: HTMLFormElement, name: string): string {
  const control = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | null;
  return control ? control.value.trim() : '';
}

/** A labelled form control: `<label>Name <input …></label>`, stacked by CSS. */
export function labelled(text: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, text), control, hint ? h('small', { class: 'hint' }, hint) : null);
}

/** A labelled search box of a filter form. */
export function searchField(name: string, label: string, placeholder: string, value: string): HTMLLabelElement {
  return labelled(label, h('input', { name, type: 'search', value, placeholder, autocomplete: 'off', spellcheck: 'false' }));
}

/** A filter form's Search and Clear buttons. */
export function filterActions(): HTMLDivElement {
  return h('div', { class: 'filter-actions' }, h('button', { type: 'submit' }, 'Search'), h('button', { type: 'button', class: 'secondary clear' }, 'Clear'));
}

/** A `<select>` of [value, text] options with one selected. */
export function select(name: string, options: [string, string][], selected: string): HTMLSelectElement {
  return h('select', { name }, ...options.map(([value, text]) => h('option', { value, selected: value === selected }, text)));
}

/** A list of facts (`term: value`), laid out as a grid of small cards. */
export function facts(pairs: [string, Node | string][], className = ''): HTMLDListElement {
  return h('dl', { class: `facts ${className}`.trim() }, ...pairs.map(([term, value]) => h('div', { class: 'fact' }, h('dt', {}, term), h('dd', {}, value))));
}
