--- Options of the sero plugin, and the `sero` settings each folder gets (CONTRACT §6).
local M = {}

---@class sero.StatuslineOpts
---@field icon? boolean prefix the text with an icon
---@field icons? {container: string, host: string, degraded: string}

---@class sero.Opts
---@field cmd? string[] the hub's command (default `{ "sero-ls" }`)
---@field settings? table `sero` settings for every folder (camelCase keys, CONTRACT §6)
---@field folders? table<string, table> per folder path: settings that override `settings`
---@field notify? boolean one vim.notify when a folder becomes degraded (default true)
---@field statusline? sero.StatuslineOpts
---@field enable? boolean call vim.lsp.enable("sero_ls") (default true)
---@field trace? "off"|"messages"|"verbose" sero-ls' message trace (the `trace` setting; :SeroLogs sero-ls-trace)

M.defaults = {
  cmd = { 'sero-ls' },
  settings = {},
  folders = {},
  notify = true,
  enable = true,
  statusline = {
    icon = false,
    icons = { container = '⬢', host = '⌂', degraded = '⚠' },
  },
}

---@type sero.Opts
M.options = vim.deepcopy(M.defaults)

---@param opts? sero.Opts
function M.apply(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local folders = {}
  for path, settings in pairs(M.options.folders or {}) do
    folders[M.normalize(path)] = settings
  end
  M.options.folders = folders
end

--- An absolute path without a trailing slash, `~` expanded.
---@param path string
---@return string
function M.normalize(path)
  local p = vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(path), ':p'))
  if #p > 1 then
    p = p:gsub('/+$', '')
  end
  return p
end

--- Is `path` equal to `dir` or inside it?
---@param dir string
---@param path string
function M.contains(dir, path)
  if path == dir then
    return true
  end
  local prefix = dir == '/' and '/' or dir .. '/'
  return path:sub(1, #prefix) == prefix
end

--- The `sero` settings of the folder at `path` (nil: the settings every folder shares).
--- Later wins: the client's own `settings.sero`, `setup({settings})`, then the most specific
--- `setup({folders})` entry that contains `path`.
---@param path? string
---@param client_settings? table
---@return table
function M.settings_for(path, client_settings)
  local out = vim.tbl_deep_extend('force', {}, client_settings or {}, M.options.settings or {})
  if M.options.trace then
    out.trace = M.options.trace
  end
  if not path then
    return out
  end
  local best, best_len = nil, -1
  for dir, settings in pairs(M.options.folders) do
    if M.contains(dir, path) and #dir > best_len then
      best, best_len = settings, #dir
    end
  end
  if best then
    out = vim.tbl_deep_extend('force', out, best)
  end
  return out
end

return M
