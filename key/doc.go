// Package key manages TFO server cookie keys (fastopen.Key): key files
// (LoadKeyFile, WriteKeyFile) and a watcher that keeps a server in step
// with one (KeyWatcher), fleet-wide rotation derived from a shared secret
// (Rotation, RotateLoop, LoadSecretFile), the namespace-wide key of
// net.ipv4.tcp_fastopen_key (SetSysctlKey, SysctlKeys, NamespaceKeyState)
// and the keys a socket holds (SocketKeys). A single listener's key is set
// with fastopen.ListenConfig.Key or fastopen.SetListenerKey.
//
// Setting keys needs root / CAP_NET_ADMIN: such errors wrap
// sysctl.ErrPrivilege.
package key
