import { describe, expect, it } from 'vitest';
import { questionTerms, termClasses } from './class-words.js';
import { namedObjects } from './object-evidence.js';

// lemma lists as wordnet-hypernyms.json holds them: a class's own synset's lemmas, then its hypernyms'
const COCO = ['person', 'car', 'bus', 'dog', 'banana'];
const HYPER = [
  ['person', 'individual', 'someone', 'somebody'],
  [
    'car',
    'auto',
    'automobile',
    'motor vehicle',
    'self-propelled vehicle',
    'wheeled vehicle',
    'vehicle',
    'conveyance',
  ],
  ['bus', 'autobus', 'coach', 'public transport', 'conveyance'],
  ['dog', 'domestic dog', 'canine', 'carnivore', 'placental', 'mammal', 'vertebrate', 'chordate', 'animal'],
  ['banana', 'edible fruit', 'produce', 'food', 'fruit'],
];

describe('class words', () => {
  it("a question's words and two-word phrases, with singulars, without the words of video itself", () => {
    const t = questionTerms('When do motor vehicles and people appear on screen?');
    expect(t).toEqual(expect.arrayContaining(['motor vehicle', 'vehicle', 'person', 'people']));
    expect(t).not.toContain('screen');
    expect(questionTerms('any berries or buses?')).toEqual(expect.arrayContaining(['berry', 'bus']));
  });

  it('a word names the classes whose lemma lists hold it; minClasses keeps category words only', () => {
    expect(termClasses('Is there a conveyance?', HYPER)).toEqual(new Map([['conveyance', [1, 2]]]));
    expect(termClasses('Is there a dog?', HYPER, 2)).toEqual(new Map());
  });

  it("the detector's classes a question names through WordNet: above a class, or its synonyms", () => {
    const names = (q: string) => namedObjects(q, COCO, HYPER).map((n) => [n.name, n.classes]);
    // a word above one class only names that class
    expect(names('Which mammals were there?')).toEqual([['dog', ['dog']]]);
    // "motor vehicle" (WordNet, above car only) and "vehicle" (COCO's supercategory and WordNet's)
    expect(names('How many motor vehicles?')).toEqual([
      ['vehicle', ['car', 'bus']],
      ['car', ['car']],
    ]);
    expect(names('Did someone come in?')).toEqual([['person', ['person']]]);
    expect(names('How many conveyances passed?')).toEqual([['conveyance', ['car', 'bus']]]);
    // COCO's supercategory and WordNet's word together: vehicle is both (bus only by COCO's)
    expect(names('Which vehicles passed?')).toEqual([['vehicle', ['car', 'bus']]]);
    expect(names('Any food?')).toEqual([['food', ['banana']]]);
    // without WordNet, only names, plurals, common words and COCO's supercategories
    expect(namedObjects('Did someone come in?', COCO).map((n) => n.name)).toEqual(['person']);
    expect(namedObjects('How many conveyances passed?', COCO)).toEqual([]);
  });
});
