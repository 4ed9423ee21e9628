/**
 * A small typed event emitter: a map of event names to payload types, checked at `on`/`emit`. Listeners
 * run synchronously in registration order; a listener that throws does not stop the others or the emitter
 * (a renderer's bug must not fail a migration step).
 */
export type EventMap = Record<string, object>;
export type Listener<T> = (payload: T) => void;

export class TypedEmitter<M extends EventMap> {
  private readonly listeners = new Map<keyof M, Set<Listener<never>>>();

  on<K extends keyof M>(name: K, l: Listener<M[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(l as Listener<never>);
    return () => this.off(name, l);
  }

  off<K extends keyof M>(name: K, l: Listener<M[K]>): void {
    this.listeners.get(name)?.delete(l as Listener<never>);
  }

  emit<K extends keyof M>(name: K, payload: M[K]): void {
    for (const l of [...(this.listeners.get(name) ?? [])]) {
      try { (l as Listener<M[K]>)(payload); } catch { /* a listener's failure is its own */ }
    }
  }

  listenerCount(name: keyof M): number {
    return this.listeners.get(name)?.size ?? 0;
  }
}
