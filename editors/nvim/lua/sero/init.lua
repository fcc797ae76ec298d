--- sero.nvim: the Neovim client of sero-ls.
---
--- ```lua
--- require('sero').setup({
---   settings = { containerBackend = 'podman' },           -- every folder (CONTRACT §6)
---   folders = { ['~/work/api'] = { runtime = 'host' } },  -- per folder, overrides `settings`
--- })
--- vim.o.statusline = '%f %= %{v:lua.require("sero").statusline()} '
--- ```
local config = require('sero.config')
local status = require('sero.status')

local M = {}

--- Configure the plugin and start the hub (`lsp/sero_ls.lua`) with `vim.lsp.enable`.
---@param opts? sero.Opts
function M.setup(opts)
  config.apply(opts)
  status.invalidate()
  local o = config.options
  vim.lsp.config('sero_ls', {
    cmd = o.cmd,
    init_options = { settings = config.settings_for(nil) },
  })
  if o.enable then
    vim.lsp.enable('sero_ls')
  end
  -- Running servers pull `sero` again (workspace/configuration) on this notification.
  for _, client in ipairs(require('sero.client').all()) do
    client:notify('workspace/didChangeConfiguration', { settings = { sero = config.settings_for(nil) } })
  end
end

--- Short text for the current buffer's folder: "container", "host", "host (degraded)"
--- (with an icon when `opts.icon` or `setup({statusline = {icon = true}})`), "" when no
--- sero server covers the buffer. Cached per buffer: safe to call on every redraw.
--- `statusline('icon')` is `statusline({icon = true})` (for `%{}`, where braces cannot go).
---@param opts? {icon?: boolean, buf?: integer}|'icon'
---@return string
function M.statusline(opts)
  return status.statusline(opts)
end

--- A lualine component: `lualine_x = { require('sero').lualine() }`.
---@param opts? {icon?: boolean}
function M.lualine(opts)
  opts = opts or {}
  return {
    function()
      return status.statusline({ icon = opts.icon })
    end,
    cond = function()
      return status.statusline() ~= ''
    end,
  }
end

--- The FolderStatus (CONTRACT §4) of the folder holding `bufnr` (default: current), or nil.
---@param bufnr? integer
---@return table?
function M.status(bufnr)
  local e = status.entry_for(bufnr or vim.api.nvim_get_current_buf())
  return e and e.status or nil
end

--- Every folder status known, keyed by folder URI.
---@return table<string, table>
function M.folders()
  local out = {}
  for uri, e in pairs(status.folders) do
    out[uri] = e.status
  end
  return out
end

--- `{ "sero-ls", "proxy", "--", <cmd...> }`: a language server command run through sero-ls,
--- in the folder's container when there is one.
---@param cmd string[]
---@param opts? {sero?: string, args?: string[]} the sero-ls executable; extra proxy args
---@return string[]
function M.proxy_cmd(cmd, opts)
  opts = opts or {}
  local out = { opts.sero or config.options.cmd[1] or 'sero-ls', 'proxy' }
  vim.list_extend(out, opts.args or {})
  out[#out + 1] = '--'
  return vim.list_extend(out, cmd)
end

--- Run an existing server config through `sero-ls proxy`:
--- `vim.lsp.config('pylsp', require('sero').wrap(vim.lsp.config.pylsp))`.
---@param server_config vim.lsp.Config
---@return vim.lsp.Config
function M.wrap(server_config)
  local out = vim.deepcopy(server_config)
  assert(type(out.cmd) == 'table', 'sero.wrap: cmd must be a list (a function cmd cannot be wrapped)')
  out.cmd = M.proxy_cmd(out.cmd)
  return out
end

return M
