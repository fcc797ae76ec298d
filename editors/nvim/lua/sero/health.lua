--- :checkhealth sero: the sero-ls executable, the running clients, and each folder's runtime
--- (mode, reason, unavailable capabilities, remedy commands). Probes have timeouts.
local config = require('sero.config')

local M = {}

local h = vim.health
local TIMEOUT_MS = 5000

local function present(v)
  return v ~= nil and v ~= vim.NIL and v ~= ''
end

local function check_executable()
  h.start('sero-ls executable')
  if vim.fn.has('nvim-0.11') == 1 then
    h.ok('Neovim ' .. tostring(vim.version()))
  else
    h.error('Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)')
  end
  local cmd = (vim.lsp.config.sero_ls or {}).cmd or config.options.cmd
  if type(cmd) ~= 'table' then
    h.info('sero_ls cmd is a function: not probed')
    return nil
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    h.error(('`%s` not found on PATH'):format(cmd[1]), {
      'pip install sero-ls (or `make setup` in a checkout, then put .venv/bin on PATH)',
      'or set the command: require("sero").setup({ cmd = { "/path/to/sero-ls" } })',
    })
    return nil
  end
  local ok, res = pcall(function()
    return vim.system({ exe, '--version' }, { text = true }):wait(TIMEOUT_MS)
  end)
  if ok and res.code == 0 then
    h.ok(('%s: %s'):format(exe, vim.trim(res.stdout or '')))
  else
    local why = ok and vim.trim((res.stderr or '') .. ' exit ' .. tostring(res.code)) or tostring(res)
    h.warn(('%s --version failed: %s'):format(exe, why))
  end
  return exe
end

--- FolderStatus list: from the running sero clients, else from `sero-ls doctor --json`.
local function gather(exe)
  local folders, seen = {}, {}
  local clients = require('sero.client').all()
  h.start('sero-ls clients')
  if #clients == 0 then
    h.warn('no sero-ls client is running in this Neovim', {
      'open a file inside a workspace folder (vim.lsp.enable("sero_ls") or require("sero").setup())',
    })
  end
  for _, client in ipairs(clients) do
    local resp, err = client:request_sync('sero/workspaceStatus', { refresh = false }, TIMEOUT_MS, 0)
    if resp and not resp.err and type(resp.result) == 'table' then
      h.ok(('client %d (%s): %d folder(s)'):format(client.id, client.name, #(resp.result.folders or {})))
      for _, s in ipairs(resp.result.folders or {}) do
        if not seen[s.uri] then
          folders[#folders + 1], seen[s.uri] = s, true
        end
      end
    else
      h.warn(('client %d (%s): sero/workspaceStatus failed: %s'):format(client.id, client.name,
        tostring(err or (resp and resp.err and resp.err.message))))
    end
  end
  if #folders == 0 and exe then
    local dir = vim.fn.getcwd()
    local argv = { exe, 'doctor', '--json', dir }
    local ok, res = pcall(function()
      return vim.system(argv, { text = true }):wait(3 * TIMEOUT_MS)
    end)
    local decoded = ok and res.stdout and res.stdout ~= '' and select(2, pcall(vim.json.decode, res.stdout))
    if type(decoded) == 'table' and type(decoded.folders) == 'table' then
      h.info('status from `' .. table.concat(argv, ' ') .. '`')
      folders = decoded.folders
    end
  end
  return folders
end

local function check_folder(s)
  h.start(('folder %s'):format(s.name or s.uri))
  local rt = type(s.runtime) == 'table' and s.runtime or {}
  local summary = ('mode %s (requested %s), backend %s, system %s'):format(
    tostring(s.mode), tostring(s.requested), tostring(rt.backend), tostring(rt.system))
  local missing = {}
  for _, cap in ipairs(s.capabilities or {}) do
    if not cap.available then
      missing[#missing + 1] = cap.id .. (present(cap.reason) and (' (' .. cap.reason .. ')') or '')
    end
  end
  local remedy = {}
  for _, r in ipairs(s.remedy or {}) do
    remedy[#remedy + 1] = r
  end
  if s.degraded then
    local report = s.requested == 'container' and h.error or h.warn
    report(('%s: degraded, reason %s: %s'):format(summary, tostring(s.reason), tostring(s.message)), remedy)
  else
    h.ok(('%s%s'):format(summary, present(s.reason) and (', reason ' .. s.reason) or ''))
    if present(s.message) then
      h.info(s.message)
    end
  end
  if #missing > 0 then
    h.warn('unavailable capabilities: ' .. table.concat(missing, ', '))
  else
    h.ok('every capability is available')
  end
  local trust = type(s.trust) == 'table' and s.trust or nil
  if trust and trust.state == 'untrusted' then
    h.warn(('%s is not trusted%s: sero-ls ignores %s'):format(tostring(trust.config),
      trust.changed and ' (changed since it was trusted)' or '', table.concat(trust.ignored or {}, ', ')),
      { ':SeroTrust (or `sero-ls trust` in a shell) after reviewing the file' })
  end
  for _, srv in ipairs(s.servers or {}) do
    local line = ('server %s: %s in %s%s'):format(srv.id, tostring(srv.state), tostring(srv.mode),
      present(srv.reason) and (', ' .. srv.reason .. (present(srv.message) and (': ' .. srv.message) or '')) or '')
    if srv.state == 'failed' or srv.reason == 'server-not-found' then
      h.error(line)
    elseif present(srv.reason) or srv.state == 'restarting' then
      h.warn(line)
    else
      h.ok(line)
    end
  end
end

function M.check()
  local exe = check_executable()
  local folders = gather(exe)
  if #folders == 0 then
    h.start('folders')
    h.warn('no folder status available')
    return
  end
  for _, s in ipairs(folders) do
    check_folder(s)
  end
end

return M
