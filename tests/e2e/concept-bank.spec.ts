// The concept-bank proposer on the user's own sets: editing the bank (a bad line is named, the rest stays usable;
// the edit survives a reload; reset restores the built-in bank), and proposing = ranking every phrase and keeping
// the ten best, which then fill the findings box for editing.
import { makeSet } from '../fixtures/make-images.ts';
import { expect, test } from './fixtures.ts';

const files = (list: ReturnType<typeof makeSet>) =>
  list.map((f) => ({ name: f.name, mimeType: 'image/png', buffer: Buffer.from(f.bytes) }));

test('edit the bank, propose from it, and re-rank the proposals', async ({ page, network }) => {
  void network;
  await page.goto('/?ranker=test-clip');
  const bank = page.getByTestId('concept-bank');
  await bank.locator('summary').click();
  await page
    .getByTestId('concept-bank-input')
    .fill(
      '{side:left|right} pleural effusion\n{nope} opacity\n{side:left|right} {zone:upper|lower} zone opacity',
    );
  await expect(page.getByTestId('concept-bank-errors')).toContainText('Line 2');
  await expect(bank.locator('summary')).toContainText('(edited)');

  await page.reload();
  await expect(page.getByTestId('concept-bank').locator('summary')).toContainText('(edited)');

  await page
    .getByTestId('set-a-input')
    .setInputFiles(files(makeSet({ n: 8, seed: 5, brightRegion: 'image-left-lower', prefix: 'a' })));
  await page.getByTestId('set-b-input').setInputFiles(files(makeSet({ n: 8, seed: 6, prefix: 'b' })));
  await expect(page.getByTestId('set-b-count')).toHaveText('8 images');
  await page.getByTestId('propose-bank').click();
  await expect(page.getByTestId('run-status')).toHaveText('done');
  await expect(page.getByTestId('embed-stats')).toContainText('concept-bank phrases');
  const first = page.getByTestId('findings-row').first();
  // test-clip reads "right" as the image-left half and "lower" as the bottom half: A's brightened region.
  await expect(first).toHaveAttribute('data-finding', /^right /);
  const proposals = await page.getByTestId('findings-input').inputValue();
  expect(proposals.split('\n').length).toBeGreaterThan(1);

  await page.getByTestId('rank-button').click();
  await expect(page.getByTestId('run-status')).toHaveText('done');
  await expect(page.getByTestId('embed-stats')).toHaveAttribute('data-computed', '0');

  await page.getByTestId('concept-bank').locator('summary').click();
  await page.getByRole('button', { name: 'Reset to the built-in bank' }).click();
  await expect(page.getByTestId('concept-bank').locator('summary')).not.toContainText('(edited)');
});
