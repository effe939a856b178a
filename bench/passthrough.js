// The yardstick for Edgeway: the least a Worker can do between a caller and
// the upstream. It forwards the request unchanged — same method, path, query,
// headers and body — to the mock upstream, and streams the answer straight
// back. Run in the same workerd as Edgeway, it separates what the runtime
// costs from what Edgeway itself adds. Not part of the product.

export default {
  fetch(request, env) {
    const { pathname, search } = new URL(request.url);
    return fetch(new Request(env.UPSTREAM_ORIGIN + pathname + search, request));
  },
};
