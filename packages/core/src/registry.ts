import { LvuError } from './lvu-error.js';

/**
 * A named set of plug-ins of one kind (sources, encoders, LLM backends, retention policies). Adding one is a new
 * file that exports it plus one `register` call in the program that wires it in; schemas, the OpenAPI document
 * and `--help` read the registry, so they list it without another edit.
 */
export class Registry<T extends { readonly name: string; readonly description: string }> {
  readonly kind: string;
  readonly #items = new Map<string, T>();

  constructor(kind: string, items: readonly T[] = []) {
    this.kind = kind;
    for (const i of items) this.register(i);
  }

  /** Adds a plug-in; a second one with the same name is a programming error (INVALID_ARGUMENT). */
  register(item: T): this {
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(item.name)) {
      throw new LvuError(
        'INVALID_ARGUMENT',
        `${this.kind} name "${item.name}" must be lower-case kebab-case`,
        {
          field: 'name',
        },
      );
    }
    if (this.#items.has(item.name)) {
      throw new LvuError('INVALID_ARGUMENT', `${this.kind} ${item.name} is registered twice`, {
        field: 'name',
      });
    }
    this.#items.set(item.name, item);
    return this;
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  /** The plug-in called `name`, or INVALID_CONFIG naming `field` and listing what exists. */
  get(name: string, field = this.kind): T {
    const item = this.#items.get(name);
    if (!item) {
      throw new LvuError('INVALID_CONFIG', `no ${this.kind} "${String(name).slice(0, 60)}"`, {
        field,
        hint: `use one of: ${this.names().join(', ') || '(none registered)'}`,
      });
    }
    return item;
  }

  names(): string[] {
    return [...this.#items.keys()];
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  /** A copy that can be extended without changing this one. */
  clone(): Registry<T> {
    return new Registry(this.kind, this.list());
  }

  /** `name: description` lines, for `--help`. */
  help(indent = '  '): string {
    return this.list()
      .map((i) => `${indent}${i.name}: ${i.description}`)
      .join('\n');
  }
}
