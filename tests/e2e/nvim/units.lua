-- The plugin's pure parts, without a server: per-folder settings, folder matching, the
-- statusline cache and its invalidation, the degraded notification and the autocmd.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local config = require('sero.config')
local status = require('sero.status')
local sero = require('sero')

H.run(function()
  local root = assert(os.getenv('SERO_TEST_ROOT'))
  config.apply({
    settings = { containerBackend = 'podman', probeTimeout = 2 },
    trace = 'messages',
    folders = { [root .. '/a'] = { runtime = 'host' }, [root .. '/a/b/'] = { container = 'inner' } },
  })
  H.R.settings = {
    outside = config.settings_for(root .. '/ab'),
    a = config.settings_for(root .. '/a/x.py'),
    ab = config.settings_for(root .. '/a/b/c/d.py'),
    shared = config.settings_for(nil, { image = 'img', containerBackend = 'docker' }),
  }

  local function folder(name, mode, degraded)
    return { uri = vim.uri_from_fname(root .. '/' .. name), name = name, mode = mode, degraded = degraded,
             checkedAt = tostring(vim.uv.hrtime()), runtime = { container = { id = 'ctr-' .. name } } }
  end
  vim.cmd.edit(vim.fn.fnameescape(root .. '/a/b/c/d.py'))
  local inner = vim.api.nvim_get_current_buf()
  status.update(101, { folder('a', 'container', false), folder('a/b', 'host', true) })
  H.R.inner = sero.statusline()
  H.R.inner_icon = sero.statusline('icon')
  vim.cmd.edit(vim.fn.fnameescape(root .. '/ab/x.py'))
  H.R.outside = sero.statusline()
  vim.cmd.edit(vim.fn.fnameescape(root .. '/a/x.py'))
  H.R.outer = sero.statusline()
  vim.cmd.edit('sero-container://ctr-a/usr/lib/os.py')
  H.R.container_buffer = sero.statusline()

  -- checkedAt alone is no change; a new owner of the same status is no event either.
  local events = H.R.status_events
  status.update(101, { folder('a', 'container', false), folder('a/b', 'host', true) })
  status.update(102, { folder('a', 'container', false) })
  H.R.events_for_timestamps = H.R.status_events - events
  -- a real change: one event, the cache follows; degraded again is not notified again
  status.update(102, { folder('a/b', 'container', false) })
  status.update(102, { folder('a/b', 'host', true) })
  H.R.inner_after = sero.statusline({ buf = inner })
  H.R.events_for_changes = H.R.status_events - events
  -- the owner of a/b stops: a/b goes, `a` (reported by 101 again) stays
  status.update(101, { folder('a', 'container', false) })
  status.forget(102)
  H.R.inner_after_forget = sero.statusline({ buf = inner })
  H.R.degraded_notes = #vim.tbl_filter(function(n)
    return n.msg:find('runs on the host (degraded)', 1, true) ~= nil
  end, H.R.notifications)
end)
