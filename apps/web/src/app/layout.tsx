import type { ReactNode } from 'react';
import './globals.css';

export const metadata = { title: 'Berth', description: 'Containers and virtual machines' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-white text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
        {children}
      </body>
    </html>
  );
}
