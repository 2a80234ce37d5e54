// completeAuthorization, the headless user agent of the testing kit, against a
// small development authorization server written here (cookies, a login form
// with a CSRF token, a consent form), over real HTTP on 127.0.0.1.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { completeAuthorization } from '../../testing.js'

const REDIRECT = 'http://127.0.0.1/cb'
type Test = Parameters<Parameters<typeof t.test>[0]>[0]

async function devServer (t: Test): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify()
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body as string))) })
  const form = (inner: string) => `<!doctype html><form method="post" action="">${inner}</form>`
  app.get('/authorize', async (_request, reply) => reply.header('set-cookie', 'sid=s1; HttpOnly').redirect('/login', 302))
  app.get('/login', async (request, reply) => {
    if (request.headers.cookie !== 'sid=s1') return reply.code(400).send('no cookie')
    return reply.type('text/html').send(form('<input type="hidden" name="csrf" value="t&amp;1"><input name="username"><input name="password" type="password"><button type="submit" name="action" value="login">Sign in</button>'))
  })
  app.post('/login', async (request, reply) => {
    const body = request.body as Record<string, string>
    if (body.csrf !== 't&1' || body.action !== 'login') return reply.code(403).send('csrf')
    if (body.username !== 'alice' || body.password !== 'secret') return reply.code(401).send('bad password')
    return reply.header('set-cookie', 'sid=; expires=Thu, 01 Jan 1970 00:00:00 GMT').header('set-cookie', 'login=alice').redirect('/consent', 303)
  })
  app.get('/consent', async (request, reply) => {
    if (request.headers.cookie !== 'login=alice') return reply.code(400).send('not signed in')
    return reply.type('text/html').send(form('<input type="hidden" name="csrf" value="c2"><button name="action" value="approve">Allow</button>') + form('<button name="action" value="deny">Deny</button>'))
  })
  app.post('/consent', async (request, reply) => {
    const body = request.body as Record<string, string>
    return reply.redirect(body.action === 'approve' && body.csrf === 'c2' ? `${REDIRECT}?code=abc&iss=x` : `${REDIRECT}?error=access_denied`, 303)
  })
  app.get('/broken', async (_request, reply) => reply.code(500).send('boom'))
  app.get('/plain', async (_request, reply) => reply.type('text/html').send('<form method="post"><input name="q"></form>'))
  app.get('/loop', async (_request, reply) => reply.redirect('/loop', 302))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  return { app, base: `http://127.0.0.1:${port}` }
}

t.test('signs in on the login form (CSRF token and cookies carried), approves, stops at the redirect URI', async (t) => {
  const { base } = await devServer(t)
  const done = await completeAuthorization(`${base}/authorize`, REDIRECT, { username: 'alice', password: 'secret' })
  t.equal(done.searchParams.get('code'), 'abc')
  const denied = await completeAuthorization(new URL(`${base}/authorize`), REDIRECT, { username: 'alice', password: 'secret', consent: 'deny' })
  t.equal(denied.searchParams.get('error'), 'access_denied')
})

t.test('fails loudly: a wrong password, an error page, a form it cannot answer, endless redirects', async (t) => {
  const { base } = await devServer(t)
  await t.rejects(completeAuthorization(`${base}/authorize`, REDIRECT, { username: 'alice', password: 'nope' }), /got 401/)
  await t.rejects(completeAuthorization(`${base}/broken`, REDIRECT), /got 500/)
  await t.rejects(completeAuthorization(`${base}/plain`, REDIRECT), /neither a login form nor a consent form/)
  await t.rejects(completeAuthorization(`${base}/loop`, REDIRECT, { maxSteps: 3 }), /too many steps/)
})
