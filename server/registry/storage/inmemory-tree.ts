import { components } from "./paths.js";

export interface FileNode {
  kind: "file";
  /** Append-only until replaced: readers take a snapshot of the array, never of the bytes. */
  chunks: Buffer[];
  size: number;
  modTime: Date;
}

export interface DirNode {
  kind: "dir";
  children: Map<string, Node>;
  modTime: Date;
}

export type Node = FileNode | DirNode;

export function newFile(chunks: Buffer[] = []): FileNode {
  return { kind: "file", chunks, size: chunks.reduce((sum, chunk) => sum + chunk.length, 0), modTime: new Date() };
}

/**
 * The in-memory key space. Directories are implicit, as they are for object stores: one exists
 * exactly while some object lies below it, so removing the last object prunes its ancestors.
 */
export class Tree {
  readonly root: DirNode = { kind: "dir", children: new Map(), modTime: new Date() };

  find(path: string): Node | undefined {
    let node: Node = this.root;
    for (const name of components(path)) {
      if (node.kind !== "dir") return undefined;
      const next: Node | undefined = node.children.get(name);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** Places `node` at `path`, creating parents; refuses to turn a file into a directory or vice versa. */
  set(path: string, node: Node): void {
    const names = components(path);
    const last = names.pop();
    if (last === undefined) throw new Error("cannot replace the root");
    const now = new Date();
    let dir = this.root;
    const created: Array<[DirNode, string]> = [];
    for (const name of names) {
      const next = dir.children.get(name);
      if (next?.kind === "file") {
        // Undo directories made for this call so a failed set leaves no empty directory behind.
        for (const [parent, child] of created.reverse()) parent.children.delete(child);
        throw new Error(`${path}: a parent is an object, not a directory`);
      }
      if (next) {
        dir = next;
      } else {
        const made: DirNode = { kind: "dir", children: new Map(), modTime: now };
        dir.children.set(name, made);
        created.push([dir, name]);
        dir = made;
      }
    }
    if (dir.children.get(last)?.kind === "dir") {
      for (const [parent, child] of created.reverse()) parent.children.delete(child);
      throw new Error(`${path}: is a directory`);
    }
    dir.children.set(last, node);
    dir.modTime = now;
  }

  /** Detaches whatever is at `path` (only if it is `expected`, when given) and prunes emptied parents. */
  remove(path: string, expected?: Node): boolean {
    const names = components(path);
    if (names.length === 0) {
      this.root.children.clear();
      return true;
    }
    const chain: DirNode[] = [this.root];
    for (const name of names.slice(0, -1)) {
      const next = chain[chain.length - 1]!.children.get(name);
      if (next?.kind !== "dir") return false;
      chain.push(next);
    }
    const parent = chain[chain.length - 1]!;
    const last = names[names.length - 1]!;
    const node = parent.children.get(last);
    if (!node || (expected && node !== expected)) return false;
    parent.children.delete(last);
    parent.modTime = new Date();
    for (let depth = chain.length - 1; depth > 0 && chain[depth]!.children.size === 0; depth--) {
      chain[depth - 1]!.children.delete(names[depth - 1]!);
    }
    return true;
  }
}
