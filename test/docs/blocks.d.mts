/** Every marked block (`<!-- test: NAME -->` + a ```sh fence) of a markdown text, by name. */
export function docBlocks(markdown: string): Map<string, string>;
/** The named block of a markdown file; throws naming the file when it has none. */
export function docBlock(file: string, name: string): string;
