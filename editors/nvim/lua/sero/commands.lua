--- User commands: :SeroStatus, :SeroRuntime, :SeroStartContainerSystem, :SeroLogs, :SeroTerminal,
--- :SeroTrust.
local clients = require('sero.client')
local status = require('sero.status')

local M = {}

local RUNTIMES = { 'auto', 'container', 'host' }

--- The folder URI and client to act on for the current buffer, or nil (with a message).
---@return string? uri, vim.lsp.Client? client
local function target()
  local bufnr = vim.api.nvim_get_current_buf()
  local uri, client = clients.folder_of(bufnr)
  if not client then
    vim.notify('sero: no sero-ls client is running (open a file of a workspace folder first)', vim.log.levels.WARN)
    return nil
  end
  return uri, client
end

--- Lines describing one FolderStatus (CONTRACT §4).
---@param s table
---@return string[]
function M.describe(s)
  local rt = type(s.runtime) == 'table' and s.runtime or {}
  local ctr = type(rt.container) == 'table' and rt.container or nil
  local lines = {
    ('%s  [%s]'):format(s.name or s.uri, status.format(s, false)),
    ('  requested: %s   backend: %s (%s)   system: %s'):format(
      tostring(s.requested), tostring(rt.backend), tostring(rt.cli), tostring(rt.system)),
  }
  if ctr then
    lines[#lines + 1] = ('  container: %s (%s) image %s'):format(
      tostring(ctr.id), tostring(ctr.state), tostring(ctr.image))
  end
  if s.reason ~= nil and s.reason ~= vim.NIL then
    lines[#lines + 1] = ('  reason: %s'):format(s.reason)
  end
  if s.message and s.message ~= vim.NIL and s.message ~= '' then
    lines[#lines + 1] = '  ' .. s.message
  end
  local missing = {}
  for _, cap in ipairs(s.capabilities or {}) do
    if not cap.available then
      missing[#missing + 1] = cap.id
    end
  end
  if #missing > 0 then
    lines[#lines + 1] = '  unavailable: ' .. table.concat(missing, ', ')
  end
  for _, r in ipairs(s.remedy or {}) do
    lines[#lines + 1] = '  fix: ' .. r
  end
  for _, srv in ipairs(s.servers or {}) do
    lines[#lines + 1] = ('  server %s: %s in %s%s'):format(srv.id, tostring(srv.state), tostring(srv.mode),
      (srv.reason and srv.reason ~= vim.NIL) and (' (' .. srv.reason .. ')') or '')
  end
  return lines
end

function M.status(opts)
  local _, client = target()
  if not client then
    return
  end
  local params = { refresh = opts.bang or nil }
  clients.request(client, 'sero/workspaceStatus', params, function(result)
    status.update(client.id, result.folders)
    local lines = {}
    for _, s in ipairs(result.folders or {}) do
      vim.list_extend(lines, M.describe(s))
    end
    vim.notify(#lines > 0 and table.concat(lines, '\n') or 'sero: no folders', vim.log.levels.INFO, { title = 'sero' })
  end)
end

function M.runtime(opts)
  local runtime = opts.fargs[1]
  if not vim.tbl_contains(RUNTIMES, runtime) then
    vim.notify('sero: :SeroRuntime takes one of ' .. table.concat(RUNTIMES, ', '), vim.log.levels.ERROR)
    return
  end
  local uri, client = target()
  if not client or not uri then
    return
  end
  clients.request(client, 'sero/setRuntime', { uri = uri, runtime = runtime }, function(result)
    if type(result) == 'table' and result.uri then
      status.update(client.id, { result })
      vim.notify(('sero: %s now %s'):format(result.name or uri, status.format(result, false)), vim.log.levels.INFO)
    end
  end)
end

function M.start_container_system()
  local uri, client = target()
  if not client then
    return
  end
  vim.notify('sero: starting the container system...', vim.log.levels.INFO)
  clients.request(client, 'workspace/executeCommand',
    { command = 'sero.startContainerSystem', arguments = { uri } }, function(result)
      -- {started, backend, message}: Docker and Podman have no `system start`; the message says
      -- what to do instead.
      local started = type(result) == 'table' and result.started
      local text = type(result) == 'table' and result.message or (started and 'started') or vim.inspect(result)
      vim.notify('sero: container system: ' .. tostring(text), started and vim.log.levels.INFO or vim.log.levels.WARN)
      clients.request(client, 'workspace/executeCommand', { command = 'sero.refreshStatus', arguments = { uri } },
        function(refreshed)
          if type(refreshed) == 'table' then
            status.update(client.id, refreshed.folders)
          end
        end)
    end)
end

---@type table[] the last `sero/logs` answer, for completion
local known_logs = {}

local function open_log(log)
  vim.cmd.split(vim.fn.fnameescape(log.path))
  vim.bo.readonly = true
  vim.bo.autoread = true
end

function M.logs(opts)
  local _, client = target()
  if not client then
    return
  end
  clients.request(client, 'sero/logs', vim.empty_dict(), function(result)
    known_logs = result and result.logs or {}
    if opts.fargs[1] then
      for _, log in ipairs(known_logs) do
        if log.name == opts.fargs[1] or log.path == opts.fargs[1] then
          return open_log(log)
        end
      end
      return vim.notify('sero: no log named ' .. opts.fargs[1], vim.log.levels.ERROR)
    end
    local present = vim.tbl_filter(function(l) return l.exists end, known_logs)
    if #present == 0 then
      return vim.notify('sero: no log file exists yet', vim.log.levels.INFO)
    end
    vim.ui.select(present, {
      prompt = 'Sero log',
      format_item = function(l)
        return ('%s  %s  (%s bytes, %s)'):format(l.name, l.path, tostring(l.size), tostring(l.modified))
      end,
    }, function(choice)
      if choice then
        open_log(choice)
      end
    end)
  end)
end

--- Open `:terminal` with the shell sero-ls resolves for the folder (container exec or host).
function M.terminal()
  local bufnr = vim.api.nvim_get_current_buf()
  local uri, client = target()
  if not client then
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  local params = { uri = (name ~= '' and vim.uri_from_bufnr(bufnr)) or uri }
  clients.request(client, 'sero/resolveTerminal', params, function(result)
    if type(result) ~= 'table' or type(result.argv) ~= 'table' or #result.argv == 0 then
      return vim.notify('sero: sero/resolveTerminal gave no argv', vim.log.levels.ERROR)
    end
    local cwd = result.cwd
    if type(cwd) ~= 'string' or vim.fn.isdirectory(cwd) == 0 then
      cwd = nil -- a path inside the container: the exec command sets its own working directory
    end
    local env = type(result.env) == 'table' and next(result.env) and result.env or nil
    vim.cmd('botright new')
    local job = vim.fn.jobstart(result.argv, { term = true, cwd = cwd, env = env })
    if job <= 0 then
      vim.notify('sero: cannot start ' .. table.concat(result.argv, ' '), vim.log.levels.ERROR)
      return
    end
    vim.b.sero_terminal = { mode = result.mode, argv = result.argv, job = job }
  end, bufnr)
end

--- :SeroTrust: let the current folder's .sero/config.toml run what it names (`sero/trustFolder`),
--- after showing which keys and the file's sha256 (vim.ui.select: any picker plugin shows it).
--- Only the content shown is trusted: an edit since then makes sero-ls refuse.
--- :SeroTrust revoke: forget it again.
function M.trust(opts)
  local uri, client = target()
  if not client or not uri then
    return
  end
  local function done(result)
    if type(result) == 'table' and result.uri then
      status.update(client.id, { result })
      local t = type(result.trust) == 'table' and result.trust or {}
      vim.notify(('sero: %s is %s'):format(tostring(t.config or uri), tostring(t.state or 'trusted')),
        vim.log.levels.INFO)
    end
  end
  if opts.fargs[1] == 'revoke' then
    return clients.request(client, 'sero/trustFolder', { uri = uri, revoke = true }, done)
  end
  clients.request(client, 'sero/workspaceStatus', { uri = uri }, function(result)
    local s = type(result) == 'table' and (result.folders or {})[1] or nil
    local t = s and type(s.trust) == 'table' and s.trust or nil
    if not t or t.state ~= 'untrusted' then
      local what = t and (t.config .. ' is already trusted') or 'this folder\'s sero config names nothing to run'
      return vim.notify('sero: ' .. what, vim.log.levels.INFO)
    end
    local prompt = ('Trust %s (sha256 %s)? sero-ls will run or pass on what it names: %s')
      :format(t.config, t.sha256, table.concat(t.ignored or {}, ', '))
    vim.ui.select({ 'Trust', 'Cancel' }, { prompt = prompt, kind = 'sero.trust' }, function(choice)
      if choice == 'Trust' then
        clients.request(client, 'sero/trustFolder', { uri = s.uri, sha256 = t.sha256 }, done)
      end
    end)
  end)
end

function M.define()
  local cmd = vim.api.nvim_create_user_command
  cmd('SeroStatus', M.status, { bang = true, desc = 'sero: show each folder\'s runtime status (! refreshes)' })
  cmd('SeroRuntime', M.runtime, {
    nargs = 1,
    complete = function(lead)
      return vim.tbl_filter(function(r) return vim.startswith(r, lead) end, RUNTIMES)
    end,
    desc = 'sero: choose the runtime of the current folder (auto, container, host)',
  })
  cmd('SeroStartContainerSystem', M.start_container_system, { desc = 'sero: start the container system' })
  cmd('SeroLogs', M.logs, {
    nargs = '?',
    complete = function(lead)
      local names = vim.tbl_map(function(l) return l.name end, known_logs)
      return vim.tbl_filter(function(n) return vim.startswith(n, lead) end, names)
    end,
    desc = 'sero: open a Sero log',
  })
  cmd('SeroTerminal', M.terminal, { desc = 'sero: open a terminal in the folder\'s runtime' })
  cmd('SeroTrust', M.trust, {
    nargs = '?',
    complete = function(lead)
      return vim.startswith('revoke', lead) and { 'revoke' } or {}
    end,
    desc = 'sero: trust the current folder\'s .sero/config.toml (`revoke` forgets it)',
  })
end

return M
