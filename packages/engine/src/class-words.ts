/**
 * Question words against class hierarchies: a class's WordNet lemmas (its own synset's and its hypernyms', from the
 * starter set's wordnet-hypernyms.json) make a generic word ("bird", "vehicle", "food") name all its hyponyms.
 */

/** Plurals WordNet lists as exceptions (noun.exc) that questions use. */
const IRREGULAR: Record<string, string> = {
  people: 'person',
  men: 'man',
  women: 'woman',
  children: 'child',
  mice: 'mouse',
  geese: 'goose',
  teeth: 'tooth',
  feet: 'foot',
  wolves: 'wolf',
  knives: 'knife',
  leaves: 'leaf',
  oxen: 'ox',
  calves: 'calf',
  shelves: 'shelf',
};

/** Words of questions about video that are not what the question asks for ("on screen", "in this scene"). */
export const VIDEO_WORDS: ReadonlySet<string> = new Set([
  'screen',
  'scene',
  'video',
  'clip',
  'frame',
  'picture',
  'image',
  'shot',
  'camera',
  'view',
  'time',
  'moment',
  'thing',
  'something',
  'anything',
  'place',
  'way',
  'kind',
]);

/** A question's words and two-word phrases, lower case, each with its singular forms (a plural's lemma). */
export function questionTerms(question: string): string[] {
  const words = question
    .toLowerCase()
    .replace(/[^a-z0-9' -]+/g, ' ')
    .split(/[\s-]+/)
    .filter(Boolean);
  const out = new Set<string>();
  const add = (w: string) => {
    if (VIDEO_WORDS.has(w)) return;
    out.add(w);
    if (IRREGULAR[w]) out.add(IRREGULAR[w]!);
    if (w.endsWith('ies') && w.length > 4) out.add(`${w.slice(0, -3)}y`);
    if (w.endsWith('es') && w.length > 3) out.add(w.slice(0, -2));
    if (w.endsWith('s') && !w.endsWith('ss') && w.length > 2) out.add(w.slice(0, -1));
  };
  words.forEach((w, i) => {
    add(w);
    if (i + 1 < words.length) add(`${w} ${words[i + 1]}`);
  });
  return [...out];
}

/**
 * For each term of the question that is a lemma of at least `minClasses` classes' lists (so a category word, or a
 * class's own name with `minClasses` 1), the classes (indices) it names.
 */
export function termClasses(
  question: string,
  lemmas: readonly (readonly string[])[],
  minClasses = 1,
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const t of questionTerms(question)) {
    const hits: number[] = [];
    lemmas.forEach((l, i) => {
      if (l.includes(t)) hits.push(i);
    });
    if (hits.length >= minClasses) out.set(t, hits);
  }
  return out;
}
