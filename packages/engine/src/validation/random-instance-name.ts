import { EngineError } from '../errors';
import { cryptoRandom, randomInt, type RandomSource } from './random-source';

// Lower-case ASCII only, so every pair is a valid instance name (see the test).
// prettier-ignore
export const NAME_ADJECTIVES: readonly string[] = [
  'able', 'agile', 'amber', 'ample', 'aware', 'bold', 'brave', 'brief', 'bright', 'brisk',
  'calm', 'candid', 'careful', 'cheery', 'civil', 'clean', 'clear', 'clever', 'cosmic', 'crisp',
  'curious', 'daring', 'deep', 'eager', 'early', 'easy', 'exact', 'fair', 'fancy', 'fast',
  'fine', 'firm', 'fluent', 'fond', 'free', 'fresh', 'gentle', 'glad', 'golden', 'grand',
  'happy', 'hardy', 'honest', 'humble', 'ideal', 'jolly', 'keen', 'kind', 'lively', 'loyal',
  'lucid', 'lucky', 'mellow', 'merry', 'mighty', 'modest', 'neat', 'nimble', 'noble', 'open',
  'patient', 'plucky', 'polite', 'proud', 'quick', 'quiet', 'rapid', 'ready', 'robust', 'rosy',
  'round', 'rustic', 'safe', 'sharp', 'shiny', 'silent', 'simple', 'sleek', 'smart', 'snug',
  'solid', 'sound', 'spry', 'steady', 'stoic', 'sunny', 'superb', 'sure', 'swift', 'tidy',
  'tender', 'true', 'upbeat', 'usable', 'valid', 'vivid', 'warm', 'wise', 'witty', 'zesty',
];

// prettier-ignore
export const NAME_NOUNS: readonly string[] = [
  'alpaca', 'badger', 'beagle', 'beaver', 'bison', 'bobcat', 'buffalo', 'camel', 'caribou', 'cheetah',
  'chipmunk', 'cobra', 'condor', 'cougar', 'coyote', 'crane', 'dingo', 'dolphin', 'donkey', 'eagle',
  'egret', 'falcon', 'ferret', 'finch', 'gazelle', 'gecko', 'gibbon', 'giraffe', 'goose', 'gopher',
  'grouse', 'hare', 'hawk', 'heron', 'hornet', 'husky', 'ibex', 'iguana', 'impala', 'jackal',
  'jaguar', 'kestrel', 'kiwi', 'koala', 'lemur', 'leopard', 'lion', 'llama', 'lynx', 'macaw',
  'mallard', 'marmot', 'marten', 'meerkat', 'mink', 'moose', 'narwhal', 'newt', 'ocelot', 'octopus',
  'orca', 'osprey', 'otter', 'owl', 'panda', 'panther', 'parrot', 'pelican', 'penguin', 'pigeon',
  'puffin', 'python', 'quail', 'rabbit', 'raven', 'robin', 'salmon', 'seal', 'shark', 'skunk',
  'sparrow', 'squid', 'stork', 'swan', 'tapir', 'tiger', 'toucan', 'trout', 'turtle', 'urchin',
  'viper', 'walrus', 'weasel', 'whale', 'wombat', 'wren', 'yak', 'zebra', 'mantis', 'bee',
];

/** LXD gives up after this many collisions too. */
const MAX_ATTEMPTS = 100;

function pick(words: readonly string[], random: RandomSource): string {
  const word = words[randomInt(random, words.length)];
  if (word === undefined) throw new EngineError('INTERNAL', 'empty word list');
  return word;
}

/**
 * An LXD-style `adjective-noun` name (LXD uses a two-word petname when the
 * request has no name) that is not among `existing` (compared
 * case-insensitively). Throws CONFLICT after 100 collisions, as LXD does.
 */
export function randomInstanceName(
  existing: Iterable<string> = [],
  random: RandomSource = cryptoRandom,
): string {
  const taken = new Set<string>();
  for (const name of existing) taken.add(name.toLowerCase());

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const name = `${pick(NAME_ADJECTIVES, random)}-${pick(NAME_NOUNS, random)}`;
    if (!taken.has(name)) return name;
  }
  throw new EngineError(
    'CONFLICT',
    `name: Couldn't generate a new unique name after ${MAX_ATTEMPTS} tries`,
    { field: 'name' },
  );
}
