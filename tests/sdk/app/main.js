// Streams an answer into the page with the `edgeway` package. The gateway
// and the (publishable) key come from the query string.
import { Edgeway, EdgewayError } from 'edgeway';

const params = new URLSearchParams(location.search);
const client = new Edgeway({ baseUrl: params.get('gateway'), apiKey: params.get('key') });
const $ = (id) => document.getElementById(id);

$('ask').addEventListener('click', async () => {
  const answer = $('answer');
  for (const id of ['answer', 'meta', 'error']) $(id).textContent = '';
  $('status').textContent = 'streaming';
  try {
    const stream = client.stream({ model: $('model').value, messages: [{ role: 'user', content: $('prompt').value }] });
    const meta = await stream.metadata();
    $('meta').textContent = `${meta.requestId} via ${meta.route}`;
    for await (const text of stream.textStream) answer.textContent += text;
    $('status').textContent = 'done';
  } catch (error) {
    $('error').textContent = error instanceof EdgewayError ? error.code : 'not-edgeway-error';
    $('status').textContent = 'failed';
  }
});
