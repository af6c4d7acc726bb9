// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What neither the engine nor the data package may import: dependencies point apps/web -> engine -> db. */
const webImports = [
  {
    group: ['next', 'next/*', 'react', 'react-dom', 'react/*'],
    message: 'The engine must not import web code.',
  },
  {
    group: ['@trpc/*', 'socket.io', 'socket.io-*', 'next-auth', 'next-auth/*', '@auth/*'],
    message: 'The engine must not import web code.',
  },
  {
    group: ['@berth/web', '@berth/web/*', '**/apps/web/**', '**/apps/web'],
    message: 'Dependencies point apps/web -> engine -> db.',
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/.next/**',
      '**/.next-*/**',
      '**/dist/**',
      'packages/db/src/generated/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The data package and the engine are standalone: no web framework, and
    // nothing of apps/web, may leak into them. One block per file set: a later
    // `no-restricted-imports` for the same files replaces an earlier one.
    files: ['packages/db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...webImports,
            {
              group: ['@berth/engine', '@berth/engine/*', '**/packages/engine/**'],
              message: 'The data package is the lowest floor: it imports nothing of the engine.',
            },
          ],
        },
      ],
    },
  },
  {
    // The engine also leaves Prisma to the data package: its types never leak past it.
    files: ['packages/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...webImports,
            {
              group: ['@prisma/*', '@berth/db/src/*', '**/packages/db/src/**'],
              message: 'Use @berth/db data-access modules; Prisma types stay in packages/db.',
            },
          ],
        },
      ],
    },
  },
);
