// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // The engine is a standalone package: no web framework may leak into it.
    files: ['packages/engine/**/*.ts', 'packages/db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['next', 'next/*', 'react', 'react-dom', 'react/*'],
              message: 'The engine must not import web code.',
            },
            {
              group: ['@trpc/*', 'socket.io', 'socket.io-*', 'next-auth', 'next-auth/*', '@auth/*'],
              message: 'The engine must not import web code.',
            },
            {
              group: ['@berth/web', '@berth/web/*'],
              message: 'Dependencies point apps/web -> engine -> db.',
            },
          ],
        },
      ],
    },
  },
  {
    // Only the data package may talk to Prisma; its types never leak past it.
    files: ['packages/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['next', 'next/*', 'react', 'react-dom', 'react/*'],
              message: 'The engine must not import web code.',
            },
            {
              group: ['@trpc/*', 'socket.io', 'socket.io-*', 'next-auth', 'next-auth/*', '@auth/*'],
              message: 'The engine must not import web code.',
            },
            {
              group: ['@prisma/*', '@berth/db/src/*'],
              message: 'Use @berth/db data-access modules; Prisma types stay in packages/db.',
            },
          ],
        },
      ],
    },
  },
);
